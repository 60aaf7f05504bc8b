"""`foodbot worker`: serve recognition jobs from Redis Streams until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.model_setup import make_recognizer, serving_watch
from bot.settings import Settings
from foodbot.retrain_command import nightly
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.nutrition import default_table
from meallog.store.registry import RegistryStore
from model.metrics import serve_metrics
from model.worker import HEARTBEAT_MS, StreamWorker

_LOGGER = logging.getLogger(__name__)


async def _serve(worker: StreamWorker, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A worker reaches the registry when it is told where the database is (DATABASE_URL set): a worker on
    # a GPU machine of its own has no database unless the host gives it one. Then it follows promotions
    # (unless MODEL_CHECK_SECONDS=0) and, holding torch, may run the nightly retrain (unless RETRAIN_HOUR
    # is empty).
    has_database = "database_url" in settings.model_fields_set
    engine = make_engine(settings.database_url) if has_database else None
    retrains: asyncio.Task[None] | None = None
    if engine is not None:
        registry = RegistryStore(make_sessionmaker(engine))
        if settings.model_check_seconds > 0:
            worker.watch = serving_watch(registry, settings, default_table())
        if settings.retrain_hour is not None:
            retrains = asyncio.create_task(nightly(registry, settings, stop, claimer=worker.name))
    try:
        await worker.run(stop)
        if retrains is not None:
            await retrains
    finally:
        if retrains is not None:
            retrains.cancel()
        if engine is not None:
            await engine.dispose()


def run_worker(
    settings: Settings,
    *,
    name: str | None,
    max_batch: int,
    max_wait_ms: int,
    claim_idle_ms: int,
    heartbeat_ms: int = HEARTBEAT_MS,
) -> int:
    """Load the model, then serve; returns the exit status.

    `heartbeat_ms` sets how fast this worker's death is noticed (after three missed beats);
    `claim_idle_ms` is the backstop for a worker that is alive but stuck.
    """
    if not settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        print("foodbot worker needs QUEUE_URL=redis://host:6379/0 (the same as the bot's).", file=sys.stderr)
        return 2
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    recognizer = make_recognizer(
        settings, default_table(), progress=lambda line: print(line, file=sys.stderr)
    )
    worker = StreamWorker(
        recognizer,
        settings.queue_url,
        prefix=settings.queue_prefix,
        name=name,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        claim_idle_ms=claim_idle_ms,
        heartbeat_ms=heartbeat_ms,
    )
    print(f"worker {worker.name} ready ({recognizer.runtime.name})", file=sys.stderr, flush=True)
    asyncio.run(_serve(worker, settings))
    return 0
