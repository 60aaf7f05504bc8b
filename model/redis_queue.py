"""The bot's side of the Redis Streams queue: `recognize(bytes)` answered by `foodbot worker`s.

The bot adds a job to the shared stream and waits for the worker's note on its own reply stream, then
reads the stored answer. It waits up to `timeout_s` (120 s by default): far longer than the workers need
to take over the jobs of a dead one (a few seconds, see `model.worker`) and answer them, so a worker's
death makes an answer late, never lost. An answer that is already stored (the same photo seen before, or
a job answered while this bot was restarting) is returned at once without a new job. Backpressure is
local: at most `max_pending` photos waiting per bot process, beyond that "busy" at once.

The bot never loads the model, so what it needs to know of it (`served`: the input size, to pick a
photo size, and the "unsure" threshold) comes from the workers, which publish it when they start. Until
one has, the default bundle's figures hold; an answer from a bundle other than the one known makes the
bot read it again, so a worker started after the bot, or a new model rolled out, is picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model import metrics
from model.bundle import DEFAULT_SERVED, ServedModel
from model.queue import BUSY_MESSAGE, INTERNAL_MESSAGE, TIMEOUT_MESSAGE
from model.recognition import Recognition
from model.redis_streams import STREAM_MAXLEN, Keys, job_id

_LOGGER = logging.getLogger(__name__)
BACKEND = "redis"


class RedisQueue:
    """`RecognitionQueue` over Redis Streams (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "foodbot",
        max_pending: int = 256,
        timeout_s: float = 120.0,
        name: str | None = None,
    ) -> None:
        self.keys = Keys(prefix)
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # Timeouts on every socket operation: a stalled connection ends in a "timeout" answer, not a hang.
        self._redis: Redis = Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._waiting: dict[str, asyncio.Future[Recognition]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.served: ServedModel = DEFAULT_SERVED

    @property
    def reply_stream(self) -> str:
        return self.keys.replies(self.name)

    async def start(self) -> None:
        """Check the server answers, learn what the workers serve, then follow this bot's reply stream."""
        await self._redis.ping()
        await self._learn_served()
        if not self.served.bundle_id:
            _LOGGER.info("no worker has said what it serves yet; assuming %s", self.served)
        self._reader = asyncio.create_task(self._read_replies(), name="foodbot-redis-replies")

    async def recognize(self, image_bytes: bytes) -> Recognition:
        """Recognize one photo through the workers; never raises (full queue, slow workers, Redis down)."""
        try:
            return await asyncio.wait_for(self._recognize(image_bytes), self.timeout_s + 5)
        except (TimeoutError, RedisError):
            _LOGGER.exception("recognition through Redis failed")
            metrics.ERRORS.labels(BACKEND, "timeout").inc()
            return Recognition.failed("", TIMEOUT_MESSAGE, kind="timeout")

    async def _recognize(self, image_bytes: bytes) -> Recognition:
        job = job_id(image_bytes)
        stored = await self._stored(job)
        if stored is not None:
            return stored
        future = self._waiting.get(job)
        if future is None:
            if len(self._waiting) >= self.max_pending:
                metrics.ERRORS.labels(BACKEND, "busy").inc()
                return Recognition.failed("", BUSY_MESSAGE, kind="busy")
            future = asyncio.get_running_loop().create_future()
            self._waiting[job] = future
            await self._redis.xadd(
                self.keys.jobs,
                {"id": job, "image": image_bytes, "reply": self.reply_stream},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
            metrics.QUEUE_DEPTH.labels(BACKEND).set(len(self._waiting))
            stored = await self._stored(job)  # answered between our check and the XADD
            if stored is not None and not future.done():
                future.set_result(stored)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            metrics.ERRORS.labels(BACKEND, "timeout").inc()
            return Recognition.failed("", TIMEOUT_MESSAGE, kind="timeout")
        finally:
            if future.done():
                self._waiting.pop(job, None)

    async def _stored(self, job: str) -> Recognition | None:
        raw = await self._redis.get(self.keys.answer(job))
        return Recognition.from_json(raw) if raw is not None else None

    async def _learn_served(self) -> None:
        raw = await self._redis.get(self.keys.model)
        if raw is not None:
            self.served = ServedModel.from_json(raw)

    async def _read_replies(self) -> None:
        last = "0-0"
        while not self._closing.is_set():
            try:
                batches: Any = await self._redis.xread({self.reply_stream: last}, count=256, block=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("reading %s failed; retrying", self.reply_stream)
                await asyncio.sleep(1)
                continue
            for _stream, entries in batches or []:
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    await self._resolve(fields.get(b"id", b"").decode())
                if entries:
                    await self._redis.xtrim(self.reply_stream, minid=last)

    async def _resolve(self, job: str) -> None:
        future = self._waiting.get(job)
        if future is None or future.done():
            return
        answer = await self._stored(job)
        if answer is not None and answer.bundle_id not in ("", self.served.bundle_id):
            await self._learn_served()  # first: whoever gets this answer sees the model that gave it
        if not future.done():
            future.set_result(answer or Recognition.failed("", INTERNAL_MESSAGE, kind="internal"))

    async def close(self) -> None:
        """Stop following replies; photos still waiting get an "internal" answer rather than hanging."""
        if self._reader is not None:
            # Let the blocking XREAD (1 s) return rather than cancel it mid-read: a redis-py connection
            # cancelled while reading was seen to stall closing the client for about 90 s.
            self._closing.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            except TimeoutError:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
        for future in self._waiting.values():
            if not future.done():
                future.set_result(Recognition.failed("", INTERNAL_MESSAGE, kind="internal"))
        with contextlib.suppress(Exception):
            await self._redis.delete(self.reply_stream)
        await self._redis.aclose()
