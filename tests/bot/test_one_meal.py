"""One meal, not nine: foods typed while a meal is open join it, once, on the real bot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.bot.conftest import StartBot, control_clock, press, services_of
from tests.telegram_fake import FakeTelegram

NOON = datetime(2026, 5, 7, 12, tzinfo=UTC)


async def _card_recorded(app: object, message_id: int) -> None:
    for _ in range(100):
        meals = await services_of(app).account.all_meals(1001)
        if meals and meals[-1].card_message_id == message_id:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the card was never recorded")


async def test_foods_typed_while_a_meal_is_open_join_it(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, NOON)
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    first = await tg.next_bot_message(ann.chat_id)
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Apple" in card.text and "Egg" in card.text, card.text
    assert first.text == "➕ Added — the meal is below."
    assert [label for row in first.buttons for label, _ in row] == ["✂️ Make it a separate meal"]
    await press(tg, ann, card, "Save")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert [i.food_key for i in meal.items] == ["apple", "egg"]


async def test_a_food_typed_long_after_is_a_new_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    clock = control_clock(app, NOON)
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    first = await tg.next_bot_message(ann.chat_id)
    await _card_recorded(app, first.message_id)  # the bot notes its card just after sending it
    clock.now = NOON + timedelta(minutes=11)
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Egg" in card.text and "Apple" not in card.text
    assert len(await services_of(app).account.all_meals(1001)) == 2


async def test_a_joined_food_retried_after_a_failed_card_is_added_once(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot(update_lease_seconds=1)
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    await tg.next_bot_message(ann.chat_id)
    tg.fail_next("sendMessage", status=500)  # the joined meal's card: the journal tries the text again
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    await asyncio.sleep(2)
    (meal,) = await services_of(app).account.all_meals(1001)
    assert [i.food_key for i in meal.items] == ["apple", "egg"], "the egg once"
    cards = [m for m in tg.bot_messages(ann.chat_id) if m.text and "Egg" in m.text and not m.deleted]
    assert cards == [card], "one card"


async def test_editing_a_joined_message_changes_only_its_food(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    await tg.next_bot_message(ann.chat_id)
    sent = await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    await ann.edit(sent, text="1 banana")
    edited = await tg.wait_for_edit(card)
    assert edited.text is not None and "Apple" in edited.text and "Banana" in edited.text
    assert "Egg" not in edited.text
    (meal,) = await services_of(app).account.all_meals(1001)
    assert [i.food_key for i in meal.items] == ["apple", "banana"]


async def test_today_mentions_a_meal_not_saved_yet(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    card = await tg.next_bot_message(ann.chat_id)
    await ann.send_text("/today")
    today = await tg.next_bot_message(ann.chat_id)
    assert today.text is not None and "1 meal not saved yet (Apple 182 g)" in today.text, today.text
    await press(tg, ann, card, "Save")
    await ann.send_text("/today")
    again = await tg.next_bot_message(ann.chat_id)
    assert again.text is not None and "not saved yet" not in again.text and "Apple" in again.text


async def test_one_tap_makes_a_joined_food_a_meal_of_its_own(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, NOON)
    ann = tg.user(1001, "Ann")
    await ann.send_text("1 apple")
    added = await tg.next_bot_message(ann.chat_id)
    await ann.send_text("2 eggs and toast")
    joined = await tg.next_bot_message(ann.chat_id)
    assert joined.text is not None and "Apple" in joined.text and "Egg" in joined.text
    await press(tg, ann, added, "✂️ Make it a separate meal")
    note = await tg.wait_for_edit(added)
    assert note.text is not None and "separate meal" in note.text and note.buttons == []
    rest = await tg.next_bot_message(ann.chat_id)
    split = await tg.next_bot_message(ann.chat_id)
    assert rest.text is not None and "Apple" in rest.text and "Egg" not in rest.text
    assert (
        split.text is not None and "Egg" in split.text and "Toast" in split.text and "Apple" not in split.text
    )
    await press(tg, ann, split, "Save")
    await press(tg, ann, rest, "Save")
    meals = await services_of(app).account.all_meals(1001)
    assert sorted(sorted(i.food_key for i in m.items) for m in meals) == [["apple"], ["egg", "toast"]]
