"""A real `foodbot worker` on Redis switches to the bundle promoted in the registry, and back on rollback,
without a restart; the bot learns what serves from the answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.store.registry import RegistryStore
from model.bundle import ModelBundle
from model.redis_queue import RedisQueue
from model.redis_streams import Keys
from tests.model.test_redis_queue import Workers, coffee_variants, keys, url, workers  # noqa: F401


async def _first_answer_from(bot: RedisQueue, bundle_id: str, images: list[bytes]) -> str:
    """Send distinct photos until one is answered by `bundle_id`; the food it named."""
    for image in images:
        answer = await bot.recognize(image)
        assert answer.error is None
        if answer.bundle_id == bundle_id:
            return answer.foods[0].key
        await asyncio.sleep(0.2)
    raise AssertionError(f"{bundle_id} never answered")


async def test_a_worker_serves_the_promoted_bundle_and_rolls_back_without_a_restart(
    url: str,  # noqa: F811
    keys: Keys,  # noqa: F811
    workers: Workers,  # noqa: F811
    default_bundle: ModelBundle,
    pizza_bundle: ModelBundle,
    tmp_path: Path,
) -> None:
    pizza = pizza_bundle
    database = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    await asyncio.to_thread(upgrade_database, database)
    engine = make_engine(database)
    registry = RegistryStore(make_sessionmaker(engine))
    await registry.register(default_bundle.path, parent_id=None, state="serving")
    await registry.register(pizza.path, parent_id=default_bundle.id)

    workers.env.update(DATABASE_URL=database, MODEL_CHECK_SECONDS="0.3")
    await workers.start("w1", "--max-batch", "4")
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    images = coffee_variants(120)
    try:
        assert await _first_answer_from(bot, default_bundle.id, images[:5]) == "espresso"
        await registry.promote(pizza.id)
        assert await _first_answer_from(bot, pizza.id, images[5:60]) == "pizza"
        assert bot.served.bundle_id == pizza.id, "the bot learns what serves from the answers"
        await registry.rollback()
        assert await _first_answer_from(bot, default_bundle.id, images[60:]) == "espresso"
        assert workers.processes[0].returncode is None, "the same worker process all along"
    finally:
        await bot.close()
        await engine.dispose()
