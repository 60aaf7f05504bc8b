"""Several foods in one message or caption, through the real bot and the loopback Bot API server."""

from __future__ import annotations

from tests.bot.conftest import StartBot, press, services_of
from tests.conftest import photo
from tests.telegram_fake import FakeTelegram


async def test_a_typed_meal_of_two_foods_is_one_card_with_both_amounts(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("chicken breast 150g and salad")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Chicken breast" in card.text and "Green salad" in card.text
    assert "150 g" in card.text, card.text
    await press(tg, ann, card, "Save")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert [(i.food_key, i.grams) for i in meal.items[:1]] == [("chicken_breast", 150.0)]
    assert [i.food_key for i in meal.items[1:]] == ["green_salad"]


async def test_toast_with_butter_keeps_the_toast(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("2 slices of toast with butter")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Toast" in card.text and "Butter" in card.text, card.text


async def test_a_food_it_cannot_find_is_named_and_the_rest_is_logged(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("injera with doro wat")
    note = await tg.next_bot_message(ann.chat_id)
    assert note.text is not None and "doro wat" in note.text and "➕" in note.text
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Injera" in card.text


async def test_a_caption_names_the_food_the_model_did_not_see(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("chelsea.png"), caption="2 boiled eggs")  # a cat: the model sees no food
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert card.text is not None and "Boiled egg" in card.text and "couldn't find food" not in card.text
    await press(tg, ann, card, "Save")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert [i.food_key for i in meal.items] == ["egg_boiled"]
    assert meal.items[0].grams == 100  # two eggs of 50 g
    assert meal.caption == "2 boiled eggs"


async def test_a_caption_that_is_a_title_adds_no_food(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("coffee.png"), caption="Morning coffee with Anna")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert card.text is not None and "Espresso" in card.text and "Morning coffee with Anna" in card.text
    meals = await services_of(app).account.all_meals(1001)
    assert [i.source for i in meals[0].items] == ["model"]


async def test_an_edited_caption_replaces_only_the_caption_foods(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    sent = await ann.send_photo(photo("coffee.png"), caption="croissant")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert card.text is not None and "Croissant" in card.text and "Espresso" in card.text
    await ann.edit(sent, caption="2 boiled eggs")
    edited = await tg.wait_for_edit(card)
    assert edited.text is not None and "Boiled egg" in edited.text and "Espresso" in edited.text
    assert "Croissant" not in edited.text
    meals = await services_of(app).account.all_meals(1001)
    assert sorted(i.food_key for i in meals[0].items) == ["egg_boiled", "espresso"]
