"""The real bot Application against the loopback Bot API server, on a real database."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings
from meallog.db.engine import make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.store.corrections import CorrectionStore
from model.bundle import ModelBundle
from tests.services import postgres_url, scratch_postgres_database
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

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


def services_of(app: App) -> Services:
    """The running bot's services: its stores, to set up or check what the bot did."""
    found: Services = app.bot_data[SERVICES_KEY]
    return found


def corrections_of(app: App) -> CorrectionStore:
    """The corrections the running bot recorded (only the training export reads them otherwise)."""
    return CorrectionStore(make_sessionmaker(app.bot_data["engine"]))


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A scratch PostgreSQL database for the bot, dropped afterwards."""
    with scratch_postgres_database(postgres_url(), prefix="foodbot_bot") as url:
        yield url


class FakeClock:
    """The time the bot's summary tick and menus read (`bot.schedule.CLOCK_KEY`), set by the test."""

    def __init__(self, now: dtm.datetime) -> None:
        self.now = now

    def __call__(self) -> dtm.datetime:
        return self.now


def control_clock(app: App, now: dtm.datetime) -> FakeClock:
    """Give the running bot a clock the test sets, and stop its real minute tick (the test runs it)."""
    from bot.clock import CLOCK_KEY
    from bot.schedule import JOB_NAME

    clock = FakeClock(now)
    app.bot_data[CLOCK_KEY] = clock
    for job in app.job_queue.get_jobs_by_name(JOB_NAME):
        job.enabled = False
    return clock


async def run_summary_tick(app: App, clock: FakeClock, at: dtm.datetime) -> None:
    """Set the clock to `at` and run the bot's real minute job once, as the JobQueue would."""
    from bot.schedule import JOB_NAME

    clock.now = at
    (job,) = app.job_queue.get_jobs_by_name(JOB_NAME)
    await job.run(app)


@pytest.fixture(autouse=True)
def _summary_tick_runs_only_when_a_test_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's minute job is registered as in production but paused, so the real clock never sends
    a summary in the middle of a test that does not expect one (`run_summary_tick` runs it)."""
    import bot.app
    from bot.schedule import JOB_NAME, schedule_summaries

    def paused(app: App) -> None:
        schedule_summaries(app)
        for job in app.job_queue.get_jobs_by_name(JOB_NAME):
            job.enabled = False

    monkeypatch.setattr(bot.app, "schedule_summaries", paused)


async def press(tg: FakeTelegram, user: FakeUser, message: FakeMessage, label: str) -> dict[str, object]:
    """Press the button whose text contains `label`; returns the bot's answer to the press."""
    query = await user.press(message, message.button(label))
    return await tg.wait_for_answer(query)


async def change_first_food_to_an_alternative(
    tg: FakeTelegram, user: FakeUser, card: FakeMessage
) -> tuple[FakeMessage, str]:
    """Open the card's first food and pick the model's first alternative; returns the card and its label."""
    await press(tg, user, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    alternative = next(text for row in options.buttons for text, _ in row if text.startswith("↔"))
    await press(tg, user, options, alternative)
    return await tg.wait_for_edit(card), alternative


async def ask_meal_time(tg: FakeTelegram, user: FakeUser, meal: str = "2 eggs") -> FakeMessage:
    """Type a meal, then open its 🕒 Day & time picker and ask to type when it was eaten; returns the card."""
    await user.send_text(meal)
    card = await tg.next_bot_message(user.chat_id)
    await press(tg, user, card, "Day & time")
    picker = await tg.wait_for_edit(card)
    await press(tg, user, picker, "Type a day and time")
    await tg.wait_for_edit(card)
    return card


async def ask_body(tg: FakeTelegram, user: FakeUser, sex: str) -> FakeMessage:
    """/goal → Compute → the sex button; returns the message that now asks for age, height and weight."""
    await user.send_text("/goal")
    ask = await tg.next_bot_message(user.chat_id)
    await press(tg, user, ask, "Compute")
    step = await tg.wait_for_edit(ask)
    await press(tg, user, step, sex)
    return await tg.wait_for_edit(ask)
