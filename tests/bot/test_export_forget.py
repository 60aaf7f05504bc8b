"""/export sends every meal and item as CSV; /forget, confirmed, leaves nothing of the person in any table."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from meallog.db.engine import make_engine
from meallog.db.models import Base
from meallog.prompts import Prompt, PromptKind
from meallog.store.views import NewItem
from tests.bot.conftest import (
    App,
    StartBot,
    change_first_food_to_an_alternative,
    control_clock,
    corrections_of,
    press,
    services_of,
)
from tests.conftest import photo
from tests.telegram_fake import FakeTelegram, FakeUser


async def test_export_is_a_csv_of_every_meal_and_item(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, datetime(2026, 5, 7, 10, tzinfo=UTC))
    ann = tg.user(1001, "Ann")
    await ann.send_text("/export")
    nothing = await tg.next_bot_message(1001)
    assert nothing.text is not None and "nothing to export" in nothing.text

    svc = services_of(app)
    await svc.people.set_timezone(1001, "Europe/Oslo")
    eaten = datetime(2026, 5, 6, 22, 30, tzinfo=UTC)  # 00:30 on the 7th in Oslo
    draft = await svc.meals.start_draft(
        1001,
        eaten_at=eaten,
        caption='Late "snack", at home',
        items=[NewItem("egg", 100, "typed"), NewItem("banana", 120.5, "typed")],
    )
    await svc.meals.save_meal(draft.id, 1001)
    await svc.meals.start_draft(1001, eaten_at=eaten, items=[])  # an empty draft is exported too

    await ann.send_text("/export")
    document = await tg.next_bot_message(1001)
    assert document.caption is not None and "2 meals, 2 foods" in document.caption
    (sent,) = tg.calls_to("sendDocument")
    assert sent["document"].filename == "foodbot-meals-2026-05-07.csv"
    rows = list(csv.DictReader(io.StringIO(sent["document"].data.decode("utf-8"))))
    assert len(rows) == 3
    egg, banana, empty = rows
    assert egg["eaten_at_utc"] == "2026-05-06T22:30:00+00:00"
    assert egg["eaten_at_local"] == "2026-05-07T00:30:00+02:00" and egg["local_date"] == "2026-05-07"
    assert egg["timezone"] == "Europe/Oslo" and egg["meal_name"] == 'Late "snack", at home'
    assert (egg["food_key"], egg["food"], egg["grams"], egg["source"], egg["status"]) == (
        "egg",
        "Egg",
        "100",
        "typed",
        "saved",
    )
    assert float(egg["kcal"]) > 100 and float(egg["protein_g"]) > 10
    assert banana["grams"] == "120.5" and banana["item"] == "2"
    assert empty["status"] == "draft" and empty["food"] == "" and empty["item"] == ""


async def test_export_neutralises_spreadsheet_formulas(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, datetime(2026, 5, 7, 10, tzinfo=UTC))
    ann = tg.user(1001, "Ann")
    svc = services_of(app)
    await svc.people.ensure_user(1001, 1001)
    captions = ['=HYPERLINK("https://evil.example","click")', "+1+2", "-2", "@SUM(A1)", "\t=1", "\r=1", "a=1"]
    for caption in captions:
        draft = await svc.meals.start_draft(
            1001,
            eaten_at=datetime(2026, 5, 7, 9, tzinfo=UTC),
            caption=caption,
            items=[NewItem("egg", 50, "typed")],
        )
        await svc.meals.save_meal(draft.id, 1001)

    await ann.send_text("/export")
    await tg.next_bot_message(1001)
    (sent,) = tg.calls_to("sendDocument")
    rows = list(csv.DictReader(io.StringIO(sent["document"].data.decode("utf-8"), newline="")))
    assert [row["meal_name"] for row in rows] == [*(f"'{c}" for c in captions[:-1]), "a=1"]
    assert {(row["food"], row["grams"]) for row in rows} == {("Egg", "50")}, "numbers stay numbers"


async def _ann_and_bob_use_the_bot(app: App, tg: FakeTelegram) -> FakeUser:
    """Ann: a photo meal with a correction, a typed meal reopened as a copy, goals, settings, a
    pending prompt. Bob: a meal of his own."""
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("fruits.jpg"))
    card = await tg.next_bot_message(1001, timeout=30)
    card, _alternative = await change_first_food_to_an_alternative(tg, ann, card)
    await press(tg, ann, card, "Save")
    svc = services_of(app)
    typed = await svc.meals.start_draft(
        1001, eaten_at=datetime.now(UTC), items=[NewItem("egg", 100, "typed")]
    )
    await svc.meals.save_meal(typed.id, 1001)
    assert await svc.meals.reopen_meal(typed.id, 1001) is not None
    await svc.people.set_goals(1001, {"kcal": 2000, "protein_g": 100, "fat_g": 70, "carbs_g": 250})
    await svc.people.update_settings(1001, {"empty_day": "silent"})
    await svc.people.set_pending(1001, Prompt(PromptKind.GOAL_TYPED))
    bob = tg.user(1002, "Bob")
    await svc.people.ensure_user(1002, 1002)
    theirs = await svc.meals.start_draft(
        1002, eaten_at=datetime.now(UTC), items=[NewItem("rice", 150, "typed")]
    )
    await svc.meals.save_meal(theirs.id, 1002)
    assert bob.id == 1002
    assert len(await corrections_of(app).corrections(1001)) == 1
    return ann


async def _rows_of(url: str, user_id: int, meal_ids: set[int], item_ids: set[int]) -> dict[str, int]:
    """Per table, the rows that name the person, one of their meals or one of their meals' items."""
    engine = make_engine(url)
    counts: dict[str, int] = {}
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                conditions: list[Any] = []
                for column in table.columns:
                    targets = {fk.column.table.name for fk in column.foreign_keys}
                    if (table.name == "users" and column.name == "id") or "users" in targets:
                        conditions.append(column == user_id)
                    if (table.name == "meals" and column.name == "id") or "meals" in targets:
                        conditions.append(column.in_(meal_ids or {0}))
                    if (table.name == "meal_items" and column.name == "id") or "meal_items" in targets:
                        conditions.append(column.in_(item_ids or {0}))
                query = select(func.count()).select_from(table).where(or_(*conditions))
                counts[table.name] = int(await connection.scalar(query) or 0) if conditions else 0
    finally:
        await engine.dispose()
    return counts


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_database")
    return url


async def test_forget_after_confirmation_leaves_nothing_in_any_table(
    tg: FakeTelegram, start_bot: StartBot, database_url: str
) -> None:
    url = database_url
    app = await start_bot(url)
    ann = await _ann_and_bob_use_the_bot(app, tg)
    svc = services_of(app)
    meals = await svc.account.all_meals(1001)
    meal_ids = {m.id for m in meals}
    item_ids = {i.id for m in meals for i in m.items}
    before = await _rows_of(url, 1001, meal_ids, item_ids)
    assert before["users"] == 1 and before["meals"] == 3 and before["corrections"] >= 1
    assert before["meal_items"] >= 3 and before["predictions"] >= 1
    bob_before = await _rows_of(url, 1002, {m.id for m in await svc.account.all_meals(1002)}, set())

    await ann.send_text("/forget")
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "3 meals" in ask.text
    await press(tg, ann, ask, "Cancel")
    assert (await _rows_of(url, 1001, meal_ids, item_ids)) == before, "cancel deletes nothing"

    await ann.send_text("/forget")
    ask = await tg.next_bot_message(1001)
    answer = await press(tg, ann, ask, "Yes, delete everything")
    assert answer["text"] == "Deleted."
    done = await tg.wait_for_edit(ask)
    assert done.text is not None and "deleted everything" in done.text

    after = await _rows_of(url, 1001, meal_ids, item_ids)
    assert set(after) == {t.name for t in Base.metadata.sorted_tables}, "every table was looked at"
    assert after == dict.fromkeys(after, 0), "nothing of the person remains"
    assert await _rows_of(url, 1002, {m.id for m in await svc.account.all_meals(1002)}, set()) == bob_before

    await ann.send_text("/settings")
    fresh = await tg.next_bot_message(1001)
    assert fresh.text is not None and "Timezone: UTC" in fresh.text and "Goals: none yet" in fresh.text
