"""The real bot Application against the loopback Bot API server, on a real database."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.meal_log import MealLog
from bot.migrate import upgrade_database
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings
from model.bundle import ModelBundle
from tests.services import postgres_url, scratch_postgres_database
from tests.telegram_fake import FakeTelegram

App = Any
StartBot = Callable[..., Awaitable[App]]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def bot_settings(tg: FakeTelegram, database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings as `foodbot run` would read them, pointed at the fake server and a test database."""
    values: dict[str, Any] = {
        "telegram_bot_token": tg.token,
        "telegram_api_base_url": tg.base_url,
        "database_url": database_url,
        "data_dir": data_dir,
        "device": "cpu",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
async def start_bot(
    tg: FakeTelegram, sqlite_url: str, data_dir: Path, default_bundle: ModelBundle
) -> AsyncIterator[StartBot]:
    """Starts the bot (migrating first, as `foodbot run` does); stops every started bot at the end."""
    running: list[App] = []

    async def start(database_url: str = sqlite_url, **overrides: Any) -> App:
        settings = bot_settings(tg, database_url, data_dir, **overrides)
        await asyncio.to_thread(upgrade_database, settings.database_url)
        app = build_application(settings)
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)  # run_polling calls it after initialize(); a manual start must too
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=dtm.timedelta(seconds=1))
        running.append(app)
        return app

    yield start
    for app in running:
        await stop_bot(app)


async def stop_bot(app: App) -> None:
    """Stop polling and shut down, as SIGTERM does."""
    if app.running:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def meal_log(app: App) -> MealLog:
    services: Services = app.bot_data[SERVICES_KEY]
    return services.meal_log


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A scratch PostgreSQL database for the bot, dropped afterwards."""
    with scratch_postgres_database(postgres_url(), prefix="foodbot_bot") as url:
        yield url
