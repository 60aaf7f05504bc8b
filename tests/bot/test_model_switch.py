"""The bot's in-process model follows the registry: a promoted bundle answers the next photos, no restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from meallog.db.engine import make_sessionmaker
from meallog.store.registry import RegistryStore
from model.bundle import ModelBundle
from tests.bot.conftest import StartBot, press, services_of
from tests.conftest import photo
from tests.telegram_fake import FakeTelegram


async def test_a_promoted_bundle_answers_the_next_photo_without_a_restart(
    tg: FakeTelegram,
    start_bot: StartBot,
    default_bundle: ModelBundle,
    pizza_bundle: ModelBundle,
    tmp_path: Path,
) -> None:
    pizza = pizza_bundle
    app = await start_bot(model_check_seconds=0.2)
    registry = RegistryStore(make_sessionmaker(app.bot_data["engine"]))
    await registry.register(default_bundle.path, parent_id=None, state="serving")
    await registry.register(pizza.path, parent_id=default_bundle.id)
    ann = tg.user(1001, "Ann")

    await ann.send_photo(photo("coffee.png"))
    before = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert before.text is not None and "Espresso" in before.text

    await registry.promote(pizza.id)
    queue = services_of(app).queue
    for _ in range(300):
        if queue.served.bundle_id == pizza.id:
            break
        await asyncio.sleep(0.1)
    await ann.send_photo(photo("coffee.png"))
    after = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert after.text is not None and "Pizza" in after.text, after.text
    await press(tg, ann, after, "Save")
    meals = await services_of(app).account.all_meals(1001)
    assert [m.prediction.bundle_id for m in meals if m.prediction] == [default_bundle.id, pizza.id]
