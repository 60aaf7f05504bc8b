"""Assembling the python-telegram-bot Application, and `foodbot run`.

Resources are made in `post_init` and closed in `post_shutdown` (PTB's lifecycle), so tests can run the
very same Application against a loopback Bot API server by changing `TELEGRAM_API_BASE_URL`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import signal
import sqlite3
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.callbacks import Action, pattern
from bot.clock import CLOCK_KEY, clock_of
from bot.error_report import admin_reporter
from bot.handlers.access import check_access, on_added_to_group
from bot.handlers.again import AGAIN_PATTERN, on_again, on_again_press
from bot.handlers.buttons import on_press
from bot.handlers.commands import (
    COMMANDS,
    on_help,
    on_start,
    on_timezone,
    on_today,
    on_undo,
    on_unknown_command,
)
from bot.handlers.common import Context
from bot.handlers.data import on_export, on_forget, on_forget_press
from bot.handlers.edits import on_edit
from bot.handlers.goals import on_goal, on_goal_press
from bot.handlers.history import on_history, on_history_press, on_meal_press, on_week
from bot.handlers.my_foods import on_my_food_press, on_my_foods
from bot.handlers.other import on_unsupported, on_venue
from bot.handlers.photos import on_backlog, on_document, on_photo
from bot.handlers.prompts import on_text_or_prompt
from bot.handlers.settings import on_location, on_settings, on_settings_press
from bot.handlers.summary import on_any_update, on_summary
from bot.journal import (
    JOURNAL_KEY,
    Journal,
    JournaledApplication,
    JournalQueue,
    note_failure,
)
from bot.lanes import Lanes
from bot.model_setup import configured_bundle, make_recognizer, serving_watch
from bot.readiness import Readiness, database_check, head_revision, redis_check
from bot.reembed import REEMBED_JOB, reembed
from bot.schedule import schedule_summaries
from bot.services import SERVICES_KEY, Services
from bot.settings import Settings
from bot.telegram_bot import FoodBot
from bot.telegram_io import MessageBudget, RetryingRequest, message_budget
from bot.webhook import ServeOnlyBot, registration, serves_only
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.food_index import FoodIndexError, ensure_food_index, open_food_index
from meallog.memory.recall import Recall
from meallog.nutrition import NutritionTable
from meallog.store.account import AccountStore
from meallog.store.meals import MealStore
from meallog.store.memory import MemoryStore
from meallog.store.my_foods import MyFoodStore
from meallog.store.people import PeopleStore
from meallog.store.registry import RegistryStore
from meallog.store.repeats import RepeatStore
from meallog.store.summaries import SummaryStore
from meallog.store.updates import UpdateStore
from meallog.summary_times import utc_now
from model.metrics import serve_metrics
from model.queue import InProcessQueue, RecognitionQueue
from model.redis_queue import RedisQueue

if TYPE_CHECKING:
    from bot.shared_budget import SharedPace

_LOGGER = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side. Please try again."
SWEEP_JOB = "update-journal"
REPORTER_KEY = "foodbot.error_reporter"
READINESS_KEY = "foodbot.readiness"
#: Updates handled at once. Most of them wait (a person's photos in their lane, a slot for the model),
#: and a waiting update costs little; a low cap would make a button press wait behind a burst of photos.
CONCURRENT_UPDATES = 4096
#: Photos downloaded and recognized at once, over all people (the in-process queue holds 64 at most).
RECOGNITION_SLOTS = 60
SETTINGS_PATTERN = pattern({Action.SETTINGS, Action.SUMMARY_HOUR, Action.SUMMARY_TIME, Action.TIMEZONE_PLACE})
MEAL_PATTERN = pattern({Action.REOPEN, Action.WHEN, Action.MOVE, Action.TYPE_TIME})
FORGET_PATTERN = pattern({Action.FORGET_YES, Action.FORGET_NO})


def shared_pace(settings: Settings) -> SharedPace | None:
    """The token's message budget shared by every replica through Redis (`bot.shared_budget`), when the
    bot uses Redis (QUEUE_URL); else None, and this process paces itself."""
    if not settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from redis.asyncio import Redis

    from bot.shared_budget import SharedPace

    assert settings.telegram_bot_token is not None
    return SharedPace(
        Redis.from_url(settings.queue_url, socket_timeout=10, socket_connect_timeout=5),
        settings.telegram_bot_token.get_secret_value(),
        MessageBudget.free_per_second(settings.telegram_rate_limit),
        prefix=settings.queue_prefix,
    )


def make_bot(settings: Settings) -> FoodBot[int]:
    """The bot exactly as ApplicationBuilder would build it from the token, both URLs, `RetryingRequest`
    and the message budget (its getUpdates request is the builder's default: HTTPXRequest with one
    connection). Built here rather than by the builder so that a replica that serves a webhook it does
    not register (WEBHOOK_REGISTER=false) gets a `ServeOnlyBot` instead: PTB has no option to skip
    setWebhook. `tests/bot/test_webhook_register.py` checks that it matches the builder's."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    root = settings.telegram_api_base_url.rstrip("/")
    kind: type[FoodBot[int]] = ServeOnlyBot if serves_only(settings) else FoodBot
    return kind(
        token=settings.telegram_bot_token.get_secret_value(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=RetryingRequest(),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=message_budget(
            settings.telegram_rate_limit,
            paid=settings.telegram_paid_broadcast,
            shared=shared_pace(settings),
        ),
    )


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot's Application: handlers registered, resources made when it initializes."""
    app = (
        ApplicationBuilder()
        .application_class(JournaledApplication)
        .update_queue(JournalQueue())
        .bot(make_bot(settings))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    assert isinstance(app, JournaledApplication)
    app.backlog_handler = on_backlog
    app.bot_data["settings"] = settings
    app.add_handler(TypeHandler(Update, check_access), group=-1)
    app.add_handler(ChatMemberHandler(on_added_to_group, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED & (filters.TEXT | filters.CAPTION), on_edit))
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("help", on_help))
    app.add_handler(CommandHandler("today", on_today))
    app.add_handler(CommandHandler("undo", on_undo))
    app.add_handler(CommandHandler("timezone", on_timezone))
    app.add_handler(CommandHandler("settings", on_settings))
    app.add_handler(CommandHandler("goal", on_goal))
    app.add_handler(CommandHandler("summary", on_summary))
    app.add_handler(CommandHandler("week", on_week))
    app.add_handler(CommandHandler("history", on_history))
    app.add_handler(CommandHandler("export", on_export))
    app.add_handler(CommandHandler("forget", on_forget))
    app.add_handler(CommandHandler("myfoods", on_my_foods))
    app.add_handler(CommandHandler("again", on_again))
    app.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    app.add_handler(MessageHandler(filters.PHOTO & filters.UpdateType.MESSAGE, on_photo))
    app.add_handler(MessageHandler(filters.Document.ALL & filters.UpdateType.MESSAGE, on_document))
    app.add_handler(MessageHandler(filters.VENUE, on_venue))  # a venue carries a location too
    app.add_handler(MessageHandler(filters.LOCATION & filters.UpdateType.MESSAGE, on_location))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text_or_prompt))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_unsupported))
    app.add_handler(CallbackQueryHandler(on_settings_press, pattern=SETTINGS_PATTERN))
    app.add_handler(CallbackQueryHandler(on_goal_press, pattern=pattern({Action.GOAL})))
    app.add_handler(CallbackQueryHandler(on_history_press, pattern=pattern({Action.HISTORY})))
    app.add_handler(CallbackQueryHandler(on_meal_press, pattern=MEAL_PATTERN))
    app.add_handler(CallbackQueryHandler(on_forget_press, pattern=FORGET_PATTERN))
    app.add_handler(CallbackQueryHandler(on_my_food_press, pattern=pattern({Action.MY_FOOD})))
    app.add_handler(CallbackQueryHandler(on_again_press, pattern=AGAIN_PATTERN))
    app.add_handler(CallbackQueryHandler(on_press))
    app.add_handler(TypeHandler(Update, on_any_update), group=1)
    app.bot_data.setdefault(CLOCK_KEY, utc_now)
    schedule_summaries(app)
    app.add_error_handler(on_error)
    return app


async def _sweep(context: Context) -> None:
    """The journal's job: renew this process's leases, take over updates nobody holds."""
    journal: Journal = context.application.bot_data[JOURNAL_KEY]
    queue = context.application.update_queue
    assert isinstance(queue, JournalQueue)
    try:
        # Bounded by the lease: a sweep still waiting after it (on a lock, or a connection gone bad)
        # would keep every later one from running, and this process's leases would lapse unnoticed.
        await asyncio.wait_for(journal.sweep(queue.requeue, context.bot), journal.lease.total_seconds())
    except SQLAlchemyError as exc:  # the database away: the next sweep tries again
        _LOGGER.warning("update journal sweep failed: %s", exc)
    except TimeoutError:
        _LOGGER.warning("update journal sweep took longer than a lease; the next one tries again")


async def _apologize(app: Application[Any, Any, Any, Any, Any, Any], update: Update) -> None:
    """The one reply a person gets when their update could not be handled at all."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(SORRY)
        elif update.effective_message is not None and update.effective_chat is not None:
            await app.bot.send_message(update.effective_chat.id, SORRY)
    except Exception:  # the apology itself must never take the bot down
        _LOGGER.exception("could not tell the person about the error")


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    settings: Settings = app.bot_data["settings"]
    table = NutritionTable.load()  # this application's own: it attaches the index of all of FDC
    table.attach_index(open_food_index(settings.foods_index_path))
    engine = make_engine(settings.database_url)
    queue: RecognitionQueue
    if settings.queue_url:
        queue = RedisQueue(settings.queue_url, prefix=settings.queue_prefix)
    else:
        queue = InProcessQueue(lambda: make_recognizer(settings, table))
    await queue.start()
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    app.bot_data["engine"] = engine
    sessions = make_sessionmaker(engine)
    if settings.ready_address is not None:
        checks = {"database": database_check(engine, head_revision())}
        if settings.queue_url:
            checks["queue"] = redis_check(settings.queue_url)
        readiness = Readiness(checks)
        host, port = settings.ready_address
        port = await readiness.start(host, port)
        app.bot_data[READINESS_KEY] = readiness
        _LOGGER.info("readiness on http://%s:%d/ready", host, port)
    if isinstance(queue, InProcessQueue) and settings.model_check_seconds > 0:
        queue.follow(serving_watch(RegistryStore(sessions), settings, table))
    lanes = Lanes(backlog=settings.photo_backlog, slots=RECOGNITION_SLOTS)
    journal = Journal(
        UpdateStore(sessions),
        clock_of(app),
        timedelta(seconds=settings.update_lease_seconds),
        lanes=lanes,
        apologize=lambda update: _apologize(app, update),
    )
    app.bot_data[JOURNAL_KEY] = journal
    update_queue = app.update_queue
    assert isinstance(update_queue, JournalQueue)
    update_queue.journal = journal
    app.bot_data[REPORTER_KEY] = admin_reporter(app.bot, settings.admin_chat_id, clock_of(app))
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            _sweep, interval=settings.update_lease_seconds / 3, first=0, name=SWEEP_JOB
        )
        app.job_queue.run_repeating(reembed, interval=60, first=60, name=REEMBED_JOB)

    # One clock for the handlers, the stores and the summary tick: the application's, read at each
    # call, so a test that sets the time sets it everywhere.
    def now() -> datetime:
        return clock_of(app)()

    memory = MemoryStore(sessions, now)
    my_foods = MyFoodStore(sessions, now)
    table.attach_personal(my_foods.lookup)
    app.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        people=PeopleStore(sessions, now),
        memory=memory,
        recall=Recall(
            memory,
            table.name_of,
            known=table.__contains__,
            shared=settings.memory_shared,
            min_people=settings.memory_shared_min_people,
        ),
        meals=MealStore(sessions, table, now),
        summaries=SummaryStore(sessions, table, now),
        account=AccountStore(sessions, table, now),
        repeats=RepeatStore(sessions, table, now),
        my_foods=my_foods,
        table=table,
        queue=queue,
        lanes=lanes,
    )
    await app.bot.set_my_commands(COMMANDS)


async def _post_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stopping (SIGTERM): not ready any more, so a load balancer that asks sends no more updates."""
    readiness: Readiness | None = app.bot_data.get(READINESS_KEY)
    if readiness is not None:
        readiness.draining = True


async def _post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    readiness: Readiness | None = app.bot_data.get(READINESS_KEY)
    if readiness is not None:
        await readiness.close()
    services: Services | None = app.bot_data.get(SERVICES_KEY)
    if services is not None:
        await services.queue.close()
    engine = app.bot_data.get("engine")
    if engine is not None:
        await engine.dispose()


async def on_error(update: object, context: Context) -> None:
    """Log the failure, tell the operator, and let the journal decide: try the update again later, or
    end it with one apology to the person (`bot.journal.Journal.end`)."""
    error = context.error
    if error is None:
        return
    _LOGGER.error("update failed: %s", html.escape(str(error)), exc_info=error)
    note_failure(error)
    reporter = context.application.bot_data.get(REPORTER_KEY)
    if reporter is not None:
        reporter.report(error, update)


async def check_token(settings: Settings) -> str | None:
    """Ask Telegram who the bot is before starting; a one-line problem for the person, or None if fine."""
    assert settings.telegram_bot_token is not None
    root = settings.telegram_api_base_url.rstrip("/")
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=f"{root}/bot")
    try:
        async with bot:
            await bot.get_me()
    except InvalidToken:
        return "Telegram rejected TELEGRAM_BOT_TOKEN. Check the token @BotFather gave you in .env."
    except NetworkError as exc:
        return f"Cannot reach the Telegram Bot API at {root} ({exc.message}). Check the network."
    return None


def prepare_storage(settings: Settings) -> str | None:
    """Migrate the database and, when the model runs in this process, make sure it is in place before
    serving (with QUEUE_URL the workers have it: a replica neither reads nor builds a bundle); a one-line
    problem for the host (a full or read-only disk, a database that cannot be reached), or None if all
    is well."""
    from meallog.migrate import upgrade_database  # Alembic: needed once, at start, not by every import

    try:
        upgrade_database(settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        return (
            f"Cannot open or upgrade the database at DATABASE_URL ({reason}). Check that the disk is not "
            "full or read-only and that the database server is running."
        )
    if settings.queue_url:
        return None  # a replica builds nothing: FOODS_INDEX may name an index built elsewhere
    try:
        ensure_food_index(settings.foods_index_path, progress=print)
    except (FoodIndexError, OSError, sqlite3.Error) as exc:
        _LOGGER.warning("no index of all foods (%s): search knows the curated foods only", exc)
    try:
        configured_bundle(settings)
    except OSError as exc:
        return (
            f"Cannot read or build the model in {settings.model_dir or settings.default_model_dir} ({exc}). "
            "Check that DATA_DIR is on a writable disk with space left."
        )
    return None


def run_bot(settings: Settings) -> int:
    """`foodbot run`: check the token, migrate, then serve until SIGINT/SIGTERM. Returns the exit status.

    With WEBHOOK_URL set, Telegram posts updates to it (a TLS-terminating proxy forwards them to
    WEBHOOK_LISTEN), and the bot registers it at start unless WEBHOOK_REGISTER=false (then `foodbot
    webhook set` has registered it once for every replica, with the same `registration`); otherwise the
    bot long-polls. Pending updates are never dropped in either mode: a photo sent while the bot was
    down is still answered.
    """
    problem = asyncio.run(check_token(settings))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    problem = prepare_storage(settings)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    app = build_application(settings)
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    if not settings.webhook_url:
        app.run_polling(
            allowed_updates=Update.ALL_TYPES, stop_signals=stop_signals, drop_pending_updates=False
        )
        return 0
    host, port = settings.webhook_address
    wanted = registration(settings)
    _LOGGER.info("serving webhook %s on %s:%d", wanted.url, host, port)
    app.run_webhook(
        listen=host,
        port=port,
        url_path=settings.webhook_path,
        webhook_url=wanted.url,
        secret_token=wanted.secret_token,
        allowed_updates=list(wanted.allowed_updates),
        max_connections=wanted.max_connections,
        stop_signals=stop_signals,
        drop_pending_updates=wanted.drop_pending_updates,
    )
    return 0
