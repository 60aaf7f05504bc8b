"""Every food findable, on the real bot: foods that only all of FoodData Central has, typed or searched."""

from __future__ import annotations

from tests.bot.conftest import StartBot, press, services_of
from tests.conftest import photo
from tests.telegram_fake import FakeTelegram


async def test_a_typed_food_outside_the_curated_table_gets_its_card(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("150 g kimchi")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Kimchi" in card.text and "150 g" in card.text, card.text
    await press(tg, ann, card, "Save")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert meal.items[0].food_key.startswith("fdc_") and round(meal.items[0].macros.kcal) in (22, 23)


async def test_search_on_a_photo_card_offers_foods_from_all_of_fdc(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("coffee.png"))
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    await press(tg, ann, card, "Add food")
    await tg.wait_for_edit(card)
    await ann.send_text("dosa")
    results = await tg.next_bot_message(ann.chat_id)
    labels = [text for row in results.buttons for text, _ in row]
    assert any("Dosa, plain" in label for label in labels), labels
    await press(tg, ann, results, "Dosa, plain")
    both = await tg.wait_for_edit(results)
    assert both.text is not None and "Espresso" in both.text and "Dosa, plain" in both.text
