"""/week, /history, and reopening a saved meal to change it or move it to another day, on the real bot."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from meallog.store.views import NewItem
from tests.bot.conftest import (
    App,
    StartBot,
    ask_meal_time,
    change_first_food_to_an_alternative,
    control_clock,
    corrections_of,
    press,
    services_of,
)
from tests.conftest import photo
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

OSLO = ZoneInfo("Europe/Oslo")
TODAY = date(2026, 5, 7)  # a Thursday


def oslo(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


async def _ann(app: App, tg: FakeTelegram) -> FakeUser:
    ann = tg.user(1001, "Ann")
    await services_of(app).people.ensure_user(1001, 1001)
    await services_of(app).people.set_timezone(1001, "Europe/Oslo")
    return ann


async def _saved(app: App, at: datetime, *items: tuple[str, float]) -> int:
    svc = services_of(app)
    draft = await svc.meals.start_draft(1001, eaten_at=at, items=[NewItem(k, g, "typed") for k, g in items])
    assert await svc.meals.save_meal(draft.id, 1001) is not None
    return draft.id


async def test_week_is_a_chart_of_the_last_7_days_with_the_numbers(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    await services_of(app).people.set_goals(
        1001, {"kcal": 2000, "protein_g": 100, "fat_g": 70, "carbs_g": 250}
    )
    await _saved(app, oslo(1, 9), ("egg", 100))  # Friday 1 May: the oldest of the 7 days
    await _saved(app, oslo(5, 13), ("pizza", 300), ("apple", 150))
    await _saved(app, oslo(7, 8), ("banana", 120))
    await _saved(app, oslo(30 - 30 + 1, 0, 30), ("rice", 100))  # 00:30 on 1 May, local: still that day
    await _saved(app, datetime(2026, 4, 30, 12, tzinfo=UTC), ("rice", 1000))  # too old

    await ann.send_text("/week")
    chart = await tg.next_bot_message(1001)
    assert chart.photo, "sent as a photo"
    caption = chart.caption or ""
    assert caption.startswith("📊 Last 7 days")
    lines = caption.splitlines()
    assert [line.split(":")[0] for line in lines[1:8]] == [
        "Fri 1",
        "Sat 2",
        "Sun 3",
        "Mon 4",
        "Tue 5",
        "Wed 6",
        "Thu 7",
    ]
    assert lines[2] == "Sat 2: —"
    assert "Average of 3 logged days" in caption and "(goal 2000)" in caption
    (sent,) = tg.calls_to("sendPhoto")
    assert sent["photo"].data.startswith(b"\x89PNG\r\n\x1a\n")


async def test_history_steps_through_the_days(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    await _saved(app, oslo(6, 19), ("pizza", 300))
    await _saved(app, oslo(7, 8), ("banana", 120))

    await ann.send_text("/history")
    day = await tg.next_bot_message(1001)
    assert day.text is not None and "Thursday, 7 May" in day.text and "Banana" in day.text
    labels = [text for row in day.buttons for text, _ in row]
    assert "✏️ Edit meal 1" in labels and "◀ Wed 6" in labels and not any("▶" in t for t in labels)

    await press(tg, ann, day, "◀ Wed 6")
    day = await tg.wait_for_edit(day)
    assert day.text is not None and "Wednesday, 6 May" in day.text and "Pizza" in day.text
    await press(tg, ann, day, "◀ Tue 5")
    day = await tg.wait_for_edit(day)
    assert day.text is not None and "Nothing logged" in day.text
    assert {"Today", "Wed 6 ▶"} <= {text for row in day.buttons for text, _ in row}
    await press(tg, ann, day, "Today")
    day = await tg.wait_for_edit(day)
    assert day.text is not None and "Thursday, 7 May" in day.text

    forged = await ann.press(day, "h:0::20270101", check=False)
    assert (await tg.wait_for_answer(forged))["text"] == "This button is out of date."


async def test_a_saved_meal_reopened_changed_and_moved_to_yesterday_replaces_the_original(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    original = await _saved(app, oslo(7, 11, 30), ("rice", 100))
    svc = services_of(app)

    await ann.send_text("/history")
    day = await tg.next_bot_message(1001)
    answer = await press(tg, ann, day, "Edit meal 1")
    assert "Save" in str(answer["text"])
    card = await tg.next_bot_message(1001)
    assert card.text is not None and "White rice" in card.text and "100 g" in card.text
    assert [m.id for m in await svc.meals.meals_on(1001, TODAY)] == [original], "still there while editing"

    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "2×")
    card = await tg.wait_for_edit(card)
    assert card.text is not None and "316 g" in card.text

    await press(tg, ann, card, "Day & time")
    picker = await tg.wait_for_edit(card)
    assert picker.text is not None and "Thursday 7 May, 11:30" in picker.text
    moved = await press(tg, ann, picker, "Day before")
    assert moved["text"] == "Moved to Wed 6 May, 11:30."
    forward = await press(tg, ann, await tg.wait_for_edit(card), "Day after")
    assert forward["text"] == "Moved to Thu 7 May, 11:30."
    later = await press(tg, ann, await tg.wait_for_edit(card), "+1 h")
    assert later["text"] == "That's in the future."
    await press(tg, ann, picker, "Day before")
    await tg.wait_for_edit(card)
    await press(tg, ann, picker, "Back to the meal")
    card = await tg.wait_for_edit(card)
    saved = await press(tg, ann, card, "Save")
    assert str(saved["text"]).startswith("Saved.")

    assert await svc.meals.meals_on(1001, TODAY) == []
    (meal,) = await svc.meals.meals_on(1001, date(2026, 5, 6))
    assert meal.items[0].grams == 316 and meal.eaten_at == oslo(6, 11, 30)
    assert len(await svc.account.all_meals(1001)) == 1, "the original gave way to the changed copy"


async def test_discarding_a_reopened_meal_keeps_it_as_it_was(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    original = await _saved(app, oslo(7, 8), ("banana", 120))
    await ann.send_text("/history")
    day = await tg.next_bot_message(1001)
    await press(tg, ann, day, "Edit meal 1")
    card = await tg.next_bot_message(1001)
    await press(tg, ann, card, card.buttons[0][1][0])  # ✖ the banana
    card = await tg.wait_for_edit(card)
    await press(tg, ann, card, "Discard")
    left = await tg.wait_for_edit(card)
    assert left.text is not None and "stays as it was" in left.text and "Discarded" not in left.text
    (kept,) = await services_of(app).account.all_meals(1001)
    assert kept.id == original and kept.status == "saved" and kept.items[0].food_key == "banana"


async def test_a_typed_day_and_time_moves_a_new_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    card = await ask_meal_time(tg, ann)
    await ann.send_text("soon")
    retry = await tg.next_bot_message(1001)
    assert retry.text is not None and "didn't get that" in retry.text
    await ann.send_text("yesterday 19:30")
    new_card = await tg.next_bot_message(1001)
    assert card.buttons == [], "the old card gave way"
    await press(tg, ann, new_card, "Save")
    (meal,) = await services_of(app).meals.meals_on(1001, date(2026, 5, 6))
    assert meal.eaten_at == oslo(6, 19, 30)


async def test_reopening_a_photo_meal_keeps_one_correction_per_food(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("fruits.jpg"))
    card = await tg.next_bot_message(1001, timeout=30)
    card, _alternative = await change_first_food_to_an_alternative(tg, ann, card)
    await press(tg, ann, card, "Save")
    svc = services_of(app)
    (changed,) = await corrections_of(app).corrections(1001)
    assert changed.kind == "changed"

    model_food = services_of(app).table.get(str(changed.model_key))
    assert model_food is not None

    # Reopened, changed back to what the model said, saved: no correction is left.
    card = await _reopen_last(tg, ann)
    assert await corrections_of(app).corrections(1001) == [changed], "nothing changes while the copy is open"
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, f"↔ {model_food.name[:20]}")
    card = await tg.wait_for_edit(card)
    await press(tg, ann, card, "Save")
    assert await corrections_of(app).corrections(1001) == []

    # Reopened, a banana added and the model's food removed: one "removed", one "added".
    card = await _reopen_last(tg, ann)
    await press(tg, ann, card, "Add food")
    await tg.wait_for_edit(card)
    await ann.send_text("banana")
    results = await tg.next_bot_message(1001)
    await press(tg, ann, results, "Banana")
    card = await tg.wait_for_edit(results)
    await press(tg, ann, card, card.buttons[0][1][0])  # ✖ the model's food
    card = await tg.wait_for_edit(results)
    await press(tg, ann, card, "Save")
    (meal,) = await svc.account.all_meals(1001)
    corrections = await corrections_of(app).corrections(1001)
    assert sorted((c.kind, c.model_key, c.final_key) for c in corrections) == [
        ("added", None, "banana"),
        ("removed", model_food.key, None),
    ]
    assert {c.meal_id for c in corrections} == {meal.id}


async def _reopen_last(tg: FakeTelegram, ann: FakeUser) -> FakeMessage:
    await ann.send_text("/history")
    day = await tg.next_bot_message(1001)
    await press(tg, ann, day, "Edit meal 1")
    return await tg.next_bot_message(1001)
