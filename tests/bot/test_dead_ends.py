"""No dead ends: an open prompt does not swallow a meal, prompts expire, searches and cancels leave the
chat as a person expects (the walkthrough of the everyday-logging issue, on the real bot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.bot.conftest import StartBot, control_clock, press, services_of
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

NOON = datetime(2026, 5, 7, 12, tzinfo=UTC)


async def _open_item(tg: FakeTelegram, ann: FakeUser, meal: str, button: str) -> FakeMessage:
    """Type a meal, open its first food and press `button` (grams or Search); returns the card."""
    await ann.send_text(meal)
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, button)
    await tg.wait_for_edit(card)
    return card


async def test_a_meal_typed_under_the_grams_prompt_is_a_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _open_item(tg, ann, "100 g rice", "grams")
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Egg" in card.text and "Please type the grams" not in card.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.pending is None, "the grams prompt is closed"


async def test_an_old_search_prompt_does_not_capture_a_new_meal(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, NOON)
    ann = tg.user(1001, "Ann")
    await _open_item(tg, ann, "1 apple", "Search")
    await ann.send_text("xyzzy")  # a failed search: the prompt stays open for another try
    await tg.next_bot_message(ann.chat_id)
    clock.now = NOON + timedelta(minutes=45)
    await ann.send_text("200 g chicken breast")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Chicken breast" in card.text and "Apple" not in card.text
    meals = await services_of(app).account.all_meals(1001)
    assert sorted(len(meal.items) for meal in meals) == [1, 1], "the apple draft was left alone"


async def test_a_search_leaves_no_searching_note_behind(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await _open_item(tg, ann, "1 apple", "Search")
    await ann.send_text("pear")
    results = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, results, "Pear")
    card = await tg.wait_for_edit(results)
    assert card.text is not None and "Pear" in card.text
    shown = [m.text or "" for m in tg.bot_messages(ann.chat_id) if not m.deleted]
    assert not any("Searching" in text for text in shown), shown
    assert sum("Pear" in text for text in shown) == 1, "one card"


async def test_cancel_on_a_days_delete_brings_the_day_back(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, "Save")
    await ann.send_text("/today")
    today = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, today, "Delete")
    asking = await tg.wait_for_edit(today)
    assert asking.text is not None and asking.text.startswith("Delete this meal?")
    await press(tg, ann, asking, "Cancel")
    back = await tg.wait_for_edit(today)
    assert back.text == today.text and back.buttons == today.buttons, "the day's list, as it was"
