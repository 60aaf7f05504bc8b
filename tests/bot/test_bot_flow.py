"""A person meets the bot: photo → meal card → fixes with buttons or typing → save → /today.

The real Application runs against the loopback Bot API server over HTTP, with the real default model and
a real SQLite database (migrated as `foodbot run` does).
"""

from __future__ import annotations

import asyncio

from tests.bot.conftest import (
    StartBot,
    change_first_food_to_an_alternative,
    corrections_of,
    press,
    services_of,
    stop_bot,
)
from tests.conftest import photo
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser


async def _card_from_photo(
    tg: FakeTelegram, user: FakeUser, name: str, caption: str | None = None
) -> FakeMessage:
    await user.send_photo(photo(name), caption=caption)
    return await tg.next_bot_message(user.chat_id, timeout=30)


async def test_photo_gets_one_card_with_foods_portions_and_macros(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "coffee.png", caption="Morning coffee")
    assert card.text is not None
    assert "Morning coffee" in card.text
    assert "Espresso" in card.text and "kcal" in card.text and "Total" in card.text
    assert [m for m in tg.bot_messages(ann.chat_id)] == [card], "one message: the card"
    photo_sizes = tg.messages(ann.chat_id)[0].photo
    assert photo_sizes is not None
    fetched = [file_id for file_id, _size in tg.downloads]
    smallest_enough = next(p for p in photo_sizes if min(p["width"], p["height"]) >= 224)
    assert fetched == [smallest_enough["file_id"]], "only the smallest size that fills the model's input"
    assert {c["command"] for c in tg.commands} >= {"today", "undo", "timezone"}


async def test_save_then_today_lists_the_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "coffee.png")
    answer = await press(tg, ann, card, "Save")
    assert "Saved" in str(answer["text"])
    saved = await tg.wait_for_edit(card)
    assert saved.text is not None and "Saved" in saved.text
    assert [t for row in saved.buttons for t, _ in row] == ["⭐ Add to favourites"]
    await ann.send_text("/today")
    today = await tg.next_bot_message(ann.chat_id)
    assert today.text is not None and "Espresso" in today.text and "Day total" in today.text
    assert any("Delete" in text for row in today.buttons for text, _ in row)


async def test_change_to_an_alternative_is_kept_as_a_correction(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "fruits.jpg")
    changed, alternative = await change_first_food_to_an_alternative(tg, ann, card)
    chosen = alternative.removeprefix("↔ ").strip()
    assert changed.text is not None and chosen in changed.text
    corrections = await corrections_of(app).corrections(1001)
    assert len(corrections) == 1
    assert corrections[0].kind == "changed"
    assert corrections[0].final_key is not None and corrections[0].final_key != corrections[0].model_key
    assert corrections[0].photo_file_id


async def test_portion_buttons_and_typed_grams(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("100 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "100 g" in card.text
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    assert options.text is not None and "½× 1× 1½× 2× = portions of 1 cup cooked (158 g)" in options.text
    await press(tg, ann, options, "2×")
    doubled = await tg.wait_for_edit(card)
    assert doubled.text is not None and "316 g" in doubled.text, "two portions of 158 g"
    await press(tg, ann, doubled, doubled.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    assert "✓ 2×" in [text for row in options.buttons for text, _ in row], "the current amount is marked"
    await press(tg, ann, options, "½×")
    half = await tg.wait_for_edit(card)
    assert half.text is not None and "79 g" in half.text, "half a portion, not half of two"
    await press(tg, ann, half, half.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "1×")
    back = await tg.wait_for_edit(card)
    assert back.text is not None and "1 cup cooked, 158 g" in back.text, "1× is the default portion"
    await press(tg, ann, back, back.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "grams")
    prompt = await tg.wait_for_edit(card)
    assert prompt.text is not None and "How many grams" in prompt.text
    await ann.send_text("abc")
    retry = await tg.next_bot_message(ann.chat_id)
    assert retry.text is not None and "number" in retry.text
    await ann.send_text("150 g")
    new_card = await tg.next_bot_message(ann.chat_id)
    assert new_card.text is not None and "150 g" in new_card.text
    assert card.buttons == [], "the old card gave way to the new one"


async def test_add_a_food_by_searching_and_remove_one(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "coffee.png")
    await press(tg, ann, card, "Add food")
    await tg.wait_for_edit(card)
    await ann.send_text("croissant")
    results = await tg.next_bot_message(ann.chat_id)
    assert results.text is not None and "croissant" in results.text
    await press(tg, ann, results, "Croissant")
    with_croissant = await tg.wait_for_edit(results)
    assert with_croissant.text is not None
    assert "Espresso" in with_croissant.text and "Croissant" in with_croissant.text
    await press(tg, ann, with_croissant, with_croissant.buttons[0][1][0])  # ✖ on the first food
    removed = await tg.wait_for_edit(results)
    assert removed.text is not None and "Espresso" not in removed.text and "Croissant" in removed.text


async def test_quick_entry_offers_a_card_to_save(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Egg" in card.text
    await press(tg, ann, card, "Save")
    day = await services_of(app).meals.last_saved(1001)
    assert day is not None and day.items[0].food_key == "egg" and day.items[0].source == "typed"
    await ann.send_text("hello there")
    confused = await tg.next_bot_message(ann.chat_id)
    assert confused.text is not None and "photo" in confused.text


async def test_no_food_photo_invites_typing_and_adds_it(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "chelsea.png")
    assert card.text is not None and "couldn't find food" in card.text
    await ann.send_text("banana")
    results = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, results, "Banana")
    filled = await tg.wait_for_edit(results)
    assert filled.text is not None and "Banana" in filled.text and "Total" in filled.text


async def test_bad_files_get_a_friendly_reply(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_document(b"%PDF-1.4 not a photo", file_name="menu.pdf", mime_type="application/pdf")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text is not None and "photo" in reply.text
    await ann.send_document(photo("orange.jpg")[:3000], file_name="cut.jpg", mime_type="image/jpeg")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text is not None and "send it again" in reply.text
    card = await _card_from_photo(tg, ann, "coffee.png")
    assert card.text is not None and "Espresso" in card.text, "the bot keeps working"


async def test_image_sent_as_a_document_gets_a_card(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_document(photo("coffee.png"), file_name="coffee.png", mime_type="image/png")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert card.text is not None and "Espresso" in card.text


async def test_stale_forged_and_foreign_presses_get_a_toast(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann, bob = tg.user(1001, "Ann"), tg.user(1002, "Bob")
    card = await _card_from_photo(tg, ann, "coffee.png")
    save = card.button("Save")
    bob_card = await _card_from_photo(tg, bob, "coffee.png")
    foreign = await bob.press(bob_card, save, check=False)
    assert "no longer there" in str((await tg.wait_for_answer(foreign))["text"])
    forged = await ann.press(card, "ok:not-a-number::", check=False)
    assert "out of date" in str((await tg.wait_for_answer(forged))["text"])
    await press(tg, ann, card, "Discard")
    again = await ann.press(card, save, check=False)
    assert "no longer there" in str((await tg.wait_for_answer(again))["text"])
    assert not tg.errors or all("not modified" not in e[2] for e in tg.errors)


async def test_a_draft_survives_a_restart(tg: FakeTelegram, start_bot: StartBot) -> None:
    first = await start_bot()
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "coffee.png")
    await stop_bot(first)
    second = await start_bot()
    answer = await press(tg, ann, card, "Save")
    assert "Saved" in str(answer["text"])
    assert (await services_of(second).meals.last_saved(1001)) is not None


async def test_undo_deletes_the_last_meal_after_confirmation(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("200 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, "Save")
    await ann.send_text("/undo")
    confirm = await tg.next_bot_message(ann.chat_id)
    assert confirm.text is not None and "rice" in confirm.text
    assert await services_of(app).meals.last_saved(1001) is not None, (
        "nothing is deleted before the confirmation"
    )
    await press(tg, ann, confirm, "Yes, delete")
    assert await services_of(app).meals.last_saved(1001) is None
    await ann.send_text("/undo")
    nothing = await tg.next_bot_message(ann.chat_id)
    assert nothing.text is not None and "no saved meal" in nothing.text


async def test_timezone_is_set_or_helpfully_refused(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone europe/oslo")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text is not None and "Europe/Oslo" in reply.text
    user = await services_of(app).people.get_user(1001)
    assert user is not None and user.timezone == "Europe/Oslo"
    await ann.send_text("/timezone Europe/Olso")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text is not None and "don't know" in reply.text and "Europe/Oslo" in reply.text


async def test_only_allowed_users_are_served(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(allowed_user_ids=frozenset({1001}))
    ann, eve = tg.user(1001, "Ann"), tg.user(666, "Eve")
    await eve.send_text("2 eggs")
    refusal = await tg.next_bot_message(eve.chat_id)
    assert refusal.text is not None and "private" in refusal.text and "666" in refusal.text
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Egg" in card.text


async def test_concurrent_photos_from_many_people_are_all_answered(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    users = [tg.user(2000 + n, f"User{n}") for n in range(6)]
    await asyncio.gather(*(u.send_photo(photo("coffee.png")) for u in users))
    cards = [await tg.next_bot_message(u.chat_id, timeout=60) for u in users]
    assert all(c.text is not None and "Espresso" in c.text for c in cards)


async def test_the_same_flow_on_postgresql(
    tg: FakeTelegram, start_bot: StartBot, postgres_database: str
) -> None:
    app = await start_bot(postgres_database)
    ann = tg.user(1001, "Ann")
    card = await _card_from_photo(tg, ann, "coffee.png")
    await press(tg, ann, card, "Save")
    await ann.send_text("/today")
    today = await tg.next_bot_message(ann.chat_id)
    assert today.text is not None and "Espresso" in today.text
    saved = await services_of(app).meals.last_saved(1001)
    assert saved is not None and saved.prediction is not None
    assert saved.prediction.foods[0][0] == "espresso"
