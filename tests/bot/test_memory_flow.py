"""Learning from corrections as a person meets it: fix a photo's food once, and the bot remembers.

The real Application against the loopback Bot API server, the real default model on real photos, a
real SQLite database. "Another photo" of the orange is the same scene taken smaller and re-encoded,
as a second shot of one plate would be; how well memory does on truly different photos is measured
by `foodbot evaluate-memory` (README).
"""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import update
from telegram.ext import CallbackContext

from bot.reembed import reembed
from meallog.db.engine import make_sessionmaker
from meallog.db.models import MemoryExample
from tests.bot.conftest import StartBot, press, services_of
from tests.conftest import photo
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser


def another_shot(name: str) -> bytes:
    image = Image.open(io.BytesIO(photo(name))).convert("RGB")
    smaller = image.resize((image.width * 4 // 5, image.height * 4 // 5))
    out = io.BytesIO()
    smaller.save(out, "JPEG", quality=80)
    return out.getvalue()


async def card_for(tg: FakeTelegram, user: FakeUser, image: bytes) -> FakeMessage:
    await user.send_photo(image)
    return await tg.next_bot_message(user.chat_id, timeout=30)


async def test_a_food_fixed_once_is_named_first_next_time_for_that_person_only(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann, bob = tg.user(1001, "Ann"), tg.user(2002, "Bob")
    card = await card_for(tg, ann, photo("orange.jpg"))
    assert card.buttons[0][0][0].endswith("Orange")

    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "Search")
    await tg.wait_for_edit(card)
    await ann.send_text("mandarin")
    results = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, results, "Mandarin")
    fixed = await tg.wait_for_edit(results)
    assert fixed.buttons[0][0][0].endswith("Mandarin")
    await press(tg, ann, fixed, "Save")

    again = await card_for(tg, ann, another_shot("orange.jpg"))
    assert again.buttons[0][0][0].endswith("Mandarin"), again.text
    assert again.text is not None and "Mandarin" in again.text
    theirs = await card_for(tg, bob, another_shot("orange.jpg"))
    assert theirs.buttons[0][0][0].endswith("Orange"), "Ann's memory is hers alone"

    await press(tg, ann, again, "Save")  # a second example: the right answer, confirmed
    await ann.send_text("/export")
    export = await tg.next_bot_message(ann.chat_id)
    assert export.caption is not None and "taught me 2 examples" in export.caption, export.caption

    await ann.send_text("/forget")
    ask = await tg.next_bot_message(ann.chat_id)
    assert ask.text is not None and "2 examples you taught me" in ask.text
    await press(tg, ann, ask, "Delete")
    await tg.wait_for_edit(ask)
    forgotten = await card_for(tg, ann, another_shot("orange.jpg"))
    assert forgotten.buttons[0][0][0].endswith("Orange"), "/forget took the memory too"


async def test_the_taught_food_is_among_the_alternatives_when_it_is_not_first(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    card = await card_for(tg, ann, photo("coffee.png"))
    await press(tg, ann, card, "Add food")
    await tg.wait_for_edit(card)
    await ann.send_text("croissant")
    results = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, results, "Croissant")
    both = await tg.wait_for_edit(results)
    await press(tg, ann, both, "Save")

    later = await card_for(tg, ann, another_shot("coffee.png"))
    assert later.text is not None and "Espresso" in later.text and "Croissant" in later.text, (
        "her usual plate: the coffee and the croissant she added"
    )


async def test_after_a_model_change_taught_photos_are_embedded_again_from_telegram(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    svc = services_of(app)
    ann = tg.user(1001, "Ann")
    card = await card_for(tg, ann, photo("orange.jpg"))
    await press(tg, ann, card, "Save")
    served = svc.queue.served.bundle_id
    [example] = await svc.memory.examples(ann.id, served)
    async with make_sessionmaker(
        app.bot_data["engine"]
    ).begin() as session:  # as if taught under an older model
        await session.execute(update(MemoryExample).values(bundle_id="older-bundle"))
    assert await svc.memory.examples(ann.id, served) == []

    assert await reembed(CallbackContext(app)) == 1
    [again] = await svc.memory.examples(ann.id, served)
    assert (again.food_key, again.source) == ("orange", "confirmed")
    assert abs(len(again.embedding) - len(example.embedding)) == 0
    assert await svc.memory.examples(ann.id, "older-bundle") != [], "the old row keeps its bundle"
    assert await reembed(CallbackContext(app)) == 0, "nothing left to do"
