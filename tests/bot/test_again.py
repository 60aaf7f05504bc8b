"""Logging a meal again on the real bot: /again, one tap, ⭐ favourites, typed "same as yesterday"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.handlers.again import NEW_CARD, STARRED, UNSTARRED
from bot.handlers.presses import ALREADY_DONE
from meallog.db.models import MealStatus
from meallog.store.views import MealView, NewItem
from tests.bot.conftest import App, StartBot, control_clock, press, services_of
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

OSLO = ZoneInfo("Europe/Oslo")


def oslo(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in Oslo in May 2026, as the aware UTC instant."""
    return datetime(2026, 5, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


async def _ann(app: App, tg: FakeTelegram) -> FakeUser:
    ann = tg.user(1001, "Ann")
    await services_of(app).people.ensure_user(1001, 1001)
    await services_of(app).people.set_timezone(1001, "Europe/Oslo")
    return ann


async def _saved(app: App, at: datetime, *items: tuple[str, float], caption: str | None = None) -> int:
    svc = services_of(app)
    draft = await svc.meals.start_draft(
        1001, eaten_at=at, caption=caption, items=[NewItem(k, g, "typed") for k, g in items]
    )
    assert await svc.meals.save_meal(draft.id, 1001) is not None
    return draft.id


async def _meals(app: App) -> list[MealView]:
    return await services_of(app).account.all_meals(1001)


async def _again_list(tg: FakeTelegram, ann: FakeUser) -> FakeMessage:
    await ann.send_text("/again")
    return await tg.next_bot_message(ann.chat_id)


def _labels(message: FakeMessage) -> list[str]:
    return [text for row in message.buttons for text, _ in row]


async def test_again_with_nothing_saved_says_how_to_log_a_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = await _ann(app, tg)
    await services_of(app).meals.start_draft(1001, eaten_at=oslo(7, 8), items=[NewItem("egg", 50, "typed")])

    empty = await _again_list(tg, ann)

    assert empty.text is not None and "Nothing to log again yet" in empty.text and "2 eggs" in empty.text
    assert empty.buttons == []
    assert "again" in {c["command"] for c in tg.commands}


async def test_one_tap_logs_a_recent_meal_again_as_a_new_card_dated_now(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(7, 8, 15))
    ann = await _ann(app, tg)
    porridge = await _saved(app, oslo(6, 7, 30), ("oats", 250), ("banana", 120), caption="Porridge")
    await _saved(app, oslo(5, 7, 30), ("banana", 100), ("oats", 200))  # the same foods, older
    await _saved(app, oslo(6, 13), ("rice", 200))

    listed = await _again_list(tg, ann)

    assert listed.text is not None and "Porridge" in listed.text and "Oatmeal" in listed.text
    assert [label.split(" · ")[0] for label in _labels(listed)] == [
        "1. White rice",
        "2. Porridge",
        "⭐ Star or unstar meals",
    ], "the newest eaten first, the same foods once"
    answer = await press(tg, ann, listed, "Porridge")
    card = await tg.wait_for_edit(listed)

    assert answer["text"] == NEW_CARD
    assert card.text is not None and "Porridge" in card.text and "Oatmeal" in card.text
    assert any("Save" in label for label in _labels(card)), "the list became the new meal's card"
    await press(tg, ann, card, "Save")
    await tg.wait_for_edit(card)
    again = next(m for m in await _meals(app) if m.id not in (porridge,) and m.eaten_at == clock.now)
    original = await services_of(app).meals.get_meal(porridge, 1001)
    assert original is not None
    assert again.status == MealStatus.SAVED and again.caption == "Porridge"
    assert [(i.food_key, i.grams) for i in again.items] == [(i.food_key, i.grams) for i in original.items]
    assert again.total == original.total


async def test_a_double_tap_or_a_redelivered_tap_makes_one_draft(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    await _saved(app, oslo(6, 12), ("rice", 200))
    listed = await _again_list(tg, ann)
    data = listed.button("White rice")

    first = await ann.press(listed, data)
    second = await ann.press(listed, data, check=False)  # the same data, before the edit arrives
    answers = {(await tg.wait_for_answer(q)).get("text") for q in (first, second)}
    tg.redeliver(tg.last_update("callback_query"))
    await ann.send_text("/help")  # something after it, so we know the redelivery was taken
    await tg.next_bot_message(ann.chat_id)
    await asyncio.sleep(0.3)

    assert answers == {NEW_CARD, ALREADY_DONE}
    drafts = [m for m in await _meals(app) if m.status == MealStatus.DRAFT]
    assert len(drafts) == 1
    assert drafts[0].card_message_id == listed.message_id


async def test_a_saved_card_stars_its_meal_and_favourites_come_first(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, "Save")
    saved = await tg.wait_for_edit(card)
    await _saved(app, oslo(7, 13), ("rice", 200))  # newer: first among the recent meals

    assert _labels(saved) == ["⭐ Add to favourites"]
    answer = await press(tg, ann, saved, "Add to favourites")
    starred = await tg.wait_for_edit(card)
    assert answer["text"] == STARRED and _labels(starred) == ["☆ Remove from favourites"]
    listed = await _again_list(tg, ann)
    assert _labels(listed)[0].startswith("1. ⭐ Egg") and _labels(listed)[1].startswith("2. White rice")

    answer = await press(tg, ann, starred, "Remove from favourites")
    assert answer["text"] == UNSTARRED
    assert _labels(await tg.wait_for_edit(card)) == ["⭐ Add to favourites"]
    assert await services_of(app).repeats.favourites(1001) == []


async def test_starring_from_the_list_and_a_favourite_outlives_its_meal(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 19))
    ann = await _ann(app, tg)
    pizza = await _saved(app, oslo(6, 19), ("pizza", 300), caption="Friday pizza")
    await _saved(app, oslo(7, 8), ("banana", 120))
    listed = await _again_list(tg, ann)

    await press(tg, ann, listed, "Star or unstar")
    starring = await tg.wait_for_edit(listed)
    assert [label.split(" · ")[0] for label in _labels(starring)] == [
        "☆ 1. Banana",
        "☆ 2. Friday pizza",
        "« Done",
    ]
    await press(tg, ann, starring, "Friday pizza")
    starring = await tg.wait_for_edit(listed)
    assert _labels(starring)[0].startswith("⭐ 1. Friday pizza")
    await press(tg, ann, starring, "Done")
    back = await tg.wait_for_edit(listed)
    assert _labels(back)[0].startswith("1. ⭐ Friday pizza")

    assert await services_of(app).meals.delete_meal(pizza, 1001)
    answer = await press(tg, ann, back, "Friday pizza")
    card = await tg.wait_for_edit(listed)
    assert answer["text"] == NEW_CARD and card.text is not None and "Friday pizza" in card.text


async def test_typed_same_as_yesterdays_breakfast_logs_that_meal(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(7, 19))
    ann = await _ann(app, tg)
    await _saved(app, oslo(6, 7), ("coffee", 240))
    breakfast = await _saved(app, oslo(6, 8, 30), ("oats", 250), ("banana", 120))
    await _saved(app, oslo(6, 12, 30), ("rice", 200))
    await _saved(app, datetime(2026, 5, 6, 9, 30, tzinfo=UTC), ("pizza", 300))  # 11:30 in Oslo: lunch

    await ann.send_text("Same as yesterday's breakfast")
    card = await tg.next_bot_message(ann.chat_id)

    assert card.text is not None and "Oatmeal" in card.text and "Banana" in card.text
    draft = next(m for m in await _meals(app) if m.status == MealStatus.DRAFT)
    assert draft.eaten_at == clock.now and draft.id != breakfast
    assert [i.source for i in draft.items] == ["again", "again"]

    await ann.send_text("same as yesterday")  # 19:00: yesterday's dinner, and there was none
    note = await tg.next_bot_message(ann.chat_id)
    assert note.text is not None and "I found no dinner yesterday" in note.text
    assert any("Oatmeal" in label or "White rice" in label for label in _labels(note))

    clock.now = oslo(7, 12)
    await ann.send_text("same lunch as yesterday")
    lunch = await tg.next_bot_message(ann.chat_id)
    assert lunch.text is not None and "Pizza" in lunch.text, "the bigger of the two lunches"

    await ann.send_text("again")
    newest = await tg.next_bot_message(ann.chat_id)
    assert newest.text is not None and "White rice" in newest.text, "the newest meal eaten"


async def test_a_typed_ask_tried_again_after_a_failed_card_makes_one_draft(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot(update_lease_seconds=1)
    control_clock(app, oslo(7, 8))
    ann = await _ann(app, tg)
    await _saved(app, oslo(6, 8), ("egg", 100))
    tg.fail_next("sendMessage", status=500)  # the card: the journal tries the text again
    await ann.send_text("same as yesterday")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    await asyncio.sleep(2)

    assert card.text is not None and "Egg" in card.text
    assert len([m for m in await _meals(app) if m.status == MealStatus.DRAFT]) == 1
    cards = [m for m in tg.bot_messages(ann.chat_id) if m.text and "Egg" in m.text and not m.deleted]
    assert cards == [card], "one card"


async def test_forged_and_stale_again_buttons_get_a_short_answer(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, oslo(7, 12))
    ann = await _ann(app, tg)
    meal = await _saved(app, oslo(6, 12), ("rice", 200))
    listed = await _again_list(tg, ann)
    assert await services_of(app).meals.delete_meal(meal, 1001)

    gone = await press(tg, ann, listed, "White rice")
    assert gone["text"] == "That meal is no longer there."
    emptied = await tg.wait_for_edit(listed)
    assert emptied.text is not None and "Nothing to log again yet" in emptied.text
    for data in ("agf:999::", "ags:1:x:c", "agu:0::", "agl:0::nonsense-but-short", "ag:abc::"):
        query = await ann.press(listed, data, check=False)
        answer = await tg.wait_for_answer(query)
        assert answer.get("text") in (None, "That meal is no longer there.", "This button is out of date.")
    assert [m for m in await _meals(app) if m.status == MealStatus.DRAFT] == []
