"""/myfoods through the real bot: define a food, log it by typing, search it, teach it, change, delete,
undo, export and forget; nobody else ever sees it."""

from __future__ import annotations

import csv
import io

from tests.bot.conftest import StartBot, press, services_of
from tests.bot.test_memory_flow import another_shot, card_for
from tests.conftest import photo
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

PIE = "Grandma's pie 120 g: 300 kcal, 4 protein, 14 fat, 40 carbs"


async def _define(tg: FakeTelegram, user: FakeUser, typed: str = PIE) -> FakeMessage:
    await user.send_text("/myfoods")
    listing = await tg.next_bot_message(user.chat_id)
    await press(tg, user, listing, "➕ New food")
    asked = await tg.wait_for_edit(listing)
    assert asked.text is not None and "colon" in asked.text
    await user.send_text(typed)
    return await tg.next_bot_message(user.chat_id)


async def test_a_food_defined_once_is_logged_by_typing_it(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann, bob = tg.user(1001, "Ann"), tg.user(1002, "Bob")
    saved = await _define(tg, ann)
    assert saved.text is not None and "Saved Grandma's pie" in saved.text and "300 kcal" in saved.text

    await ann.send_text("1 grandma's pie and a coffee")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Grandma's pie" in card.text and "300 kcal" in card.text, card.text
    await press(tg, ann, card, "Save")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert meal.items[0].name == "Grandma's pie" and round(meal.items[0].macros.kcal) == 300

    await bob.send_text("grandma's pie")
    theirs = await tg.next_bot_message(bob.chat_id)
    assert theirs.text is not None and "Grandma" not in theirs.text, "Ann's food is hers alone"


async def test_a_definition_with_a_mistake_says_what_and_keeps_asking(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    refused = await _define(tg, ann, "Pie: 3000 kcal, 4 protein, 14 fat, 40 carbs")
    assert refused.text is not None and "doesn't fit" in refused.text
    await ann.send_text("Pie: 300 kcal, 4 protein, 14 fat, 40 carbs")
    saved = await tg.next_bot_message(ann.chat_id)
    assert saved.text is not None and saved.text.startswith("✅ Saved Pie")
    await ann.send_text("/myfoods Pie: 1 kcal, 0 protein, 0 fat, 0 carbs")
    twice = await tg.next_bot_message(ann.chat_id)
    assert twice.text is not None and "already" in twice.text


async def test_change_delete_and_undo_from_the_list(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _define(tg, ann)
    await ann.send_text("grandma's pie")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, "Save")

    await ann.send_text("/myfoods")
    listing = await tg.next_bot_message(ann.chat_id)
    assert listing.text is not None and "300 kcal" in listing.text
    await press(tg, ann, listing, "✏️ Grandma's pie")
    shown = await tg.wait_for_edit(listing)
    await press(tg, ann, shown, "✏️ Change")
    await tg.wait_for_edit(shown)
    await ann.send_text("Grandma's pie 120 g: 360 kcal, 4 protein, 18 fat, 44 carbs")
    changed = await tg.next_bot_message(ann.chat_id)
    assert changed.text is not None and "Changed" in changed.text and "360 kcal" in changed.text

    await ann.send_text("/myfoods")
    listing = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, listing, "✏️ Grandma's pie")
    shown = await tg.wait_for_edit(listing)
    await press(tg, ann, shown, "🗑 Delete")
    deleted = await tg.wait_for_edit(shown)
    assert deleted.text is not None and "Deleted" in deleted.text
    assert await services_of(app).my_foods.foods(1001) == ()
    await ann.send_text("/today")
    today = await tg.next_bot_message(ann.chat_id)
    assert today.text is not None and "Grandma's pie" in today.text, "a logged meal keeps the food's name"

    await press(tg, ann, deleted, "↩️ Undo")
    restored = await tg.wait_for_edit(deleted)
    assert restored.text is not None and "Grandma's pie" in restored.text
    assert [f.name for f in await services_of(app).my_foods.foods(1001)] == ["Grandma's pie"]


async def test_search_memory_export_and_forget(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _define(tg, ann)

    card = await card_for(tg, ann, photo("orange.jpg"))
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "Search")
    await tg.wait_for_edit(card)
    await ann.send_text("grandma")
    results = await tg.next_bot_message(ann.chat_id)
    assert results.buttons[0][0][0].startswith("Grandma's pie"), results.buttons
    await press(tg, ann, results, results.buttons[0][0][0])
    fixed = await tg.wait_for_edit(results)
    await press(tg, ann, fixed, "Save")

    again = await card_for(tg, ann, another_shot("orange.jpg"))
    assert again.buttons[0][0][0].endswith("Grandma's pie"), "the memory of corrections knows it"

    await ann.send_text("/export")
    mine = await tg.next_bot_message(ann.chat_id)
    assert mine.caption is not None and "own food" in mine.caption
    sent = tg.calls_to("sendDocument")[0]
    rows = list(csv.DictReader(io.StringIO(sent["document"].data.decode("utf-8"), newline="")))
    assert [(r["name"], r["kcal_per_100g"]) for r in rows] == [("Grandma's pie", "250")]
    await tg.next_bot_message(ann.chat_id)  # the meals

    await ann.send_text("/forget")
    ask = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, ask, "Delete")
    await tg.wait_for_edit(ask)
    assert await services_of(app).my_foods.foods(1001) == ()


async def test_names_with_html_characters_and_undo_after_a_new_namesake(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await _define(tg, ann, "Pie <3 & co: 300 kcal, 4 protein, 14 fat, 40 carbs")
    await ann.send_text("/myfoods Pie <3 & co: 300 kcal, 4 protein, 14 fat, 40 carbs")
    twice = await tg.next_bot_message(ann.chat_id)
    assert twice.text is not None and "“Pie <3 & co” already" in twice.text

    await ann.send_text("pie <3 & co")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "Pie <3 & co" in card.text
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    grams = next(label for row in options.buttons for label, _ in row if "grams" in label.lower())
    await press(tg, ann, options, grams)
    asked = await tg.wait_for_edit(options)
    assert asked.text is not None and "How many grams of Pie <3 & co" in asked.text

    await ann.send_text("/myfoods")
    listing = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, listing, listing.buttons[0][0][0])
    shown = await tg.wait_for_edit(listing)
    await press(tg, ann, shown, "🗑 Delete")
    deleted = await tg.wait_for_edit(shown)
    await ann.send_text("/myfoods Pie <3 & co: 200 kcal, 4 protein, 10 fat, 25 carbs")
    await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, deleted, "↩️ Undo")
    refused = await tg.wait_for_edit(deleted)
    assert refused.text is not None and "already" in refused.text, "a clear answer, not an error"
