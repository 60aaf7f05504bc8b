"""`foodbot worker`: a standalone inference worker on Redis Streams, for GPU machines.

Each worker is a consumer in the group `workers` of the jobs stream. It keeps a heartbeat key alive (set
every `heartbeat_ms`, expiring after `HEARTBEAT_LIVES` beats) from its event loop, so a long forward pass
in a thread never looks like death. A loop: take over the jobs of consumers whose heartbeat has lapsed
(XPENDING by consumer, XCLAIM), then forget those consumers once they hold none (XGROUP DELCONSUMER); as a
backstop, take over jobs left unacknowledged for `claim_idle_ms` (XAUTOCLAIM), which also frees jobs of a
worker that is alive but stuck; else read new ones (XREADGROUP, COUNT = max batch, BLOCK = max wait);
recognize them in one batch; store each answer, tell the asking bot on its reply stream, and only then
XACK. A job delivered more than `MAX_DELIVERIES` times (it keeps killing workers) is dead-lettered: it gets
an error answer and a copy in the dead stream.

A dead worker's jobs are so answered within about `HEARTBEAT_LIVES + 1` beats (4 s by default) plus a
batch. Taking over an alive worker's jobs (one that lost Redis for a while) is harmless: delivery is at
least once and answering twice stores the same answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from model import metrics
from model.bundle import ServedModel
from model.queue import INTERNAL_MESSAGE
from model.recognition import Recognition
from model.recognizer import Recognizer
from model.redis_streams import ANSWER_TTL_S, GROUP, MAX_DELIVERIES, STREAM_MAXLEN, Keys
from model.serving_watch import BundleWatch

_LOGGER = logging.getLogger(__name__)
BACKEND = "redis-worker"
DEAD_MESSAGE = "That photo could not be processed — please send another one."
HEARTBEAT_MS = 1000
#: A worker is dead once it has missed this many heartbeats (its key's TTL is this many intervals).
HEARTBEAT_LIVES = 3

# Forget a dead consumer only while it is still dead and holds no job, in one atomic step: XGROUP
# DELCONSUMER drops the consumer's pending entries, which would lose jobs it took in the meantime.
_FORGET_DEAD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class _Job:
    entry_id: bytes
    id: str
    image: bytes
    reply: str


def _job(entry_id: bytes, fields: dict[bytes, bytes]) -> _Job:
    return _Job(
        entry_id,
        fields.get(b"id", b"").decode(),
        fields.get(b"image", b""),
        fields.get(b"reply", b"").decode(),
    )


class StreamWorker:
    """Serves jobs from the stream with one recognizer (see the module docstring)."""

    def __init__(
        self,
        recognizer: Recognizer,
        url: str,
        *,
        prefix: str = "foodbot",
        name: str | None = None,
        max_batch: int = 32,
        max_wait_ms: int = 10,
        claim_idle_ms: int = 30_000,
        heartbeat_ms: int = HEARTBEAT_MS,
    ) -> None:
        self.recognizer = recognizer
        self.keys = Keys(prefix)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.claim_idle_ms = claim_idle_ms
        self.heartbeat_ms = heartbeat_ms
        self._redis: Redis = Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
        self._forget_dead: Any = self._redis.register_script(_FORGET_DEAD)
        # Where the one sweep of this consumer's own history stands (None when done): a worker restarted
        # under the same name first reads the jobs it held before (XREADGROUP from an id, not ">"), as
        # nobody else takes them over once its heartbeat is alive again.
        self._history: bytes | None = b"0"
        self.answered = 0
        self.watch: BundleWatch | None = None

    async def ensure_group(self) -> None:
        """Create the stream and the consumer group if they do not exist yet."""
        try:
            await self._redis.xgroup_create(self.keys.jobs, GROUP, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; a batch in progress is finished and acknowledged first.

        On a clean stop the worker drops its heartbeat and leaves the group; when it dies (or this task is
        cancelled) the heartbeat just stops, lapses, and the others take over its jobs.
        """
        await self.ensure_group()
        # What the bots need of this model (they have none of their own): the input size, "unsure".
        await self._redis.set(self.keys.model, ServedModel.of(self.recognizer.bundle).to_json())
        if self.watch is not None:
            self.watch.start(self.recognizer)
        await self._beat()  # before the first read: a consumer without a heartbeat is dead to the others
        leaving = asyncio.Event()
        beating = asyncio.create_task(self._keep_beating(leaving), name=f"foodbot-heartbeat-{self.name}")
        try:
            _LOGGER.info("worker %s serving %s", self.name, self.keys.jobs)
            await self._serve(stop)
            leaving.set()
            await beating
            await self._leave()
        finally:
            beating.cancel()
            if self.watch is not None:
                await self.watch.close()
            await self._redis.aclose()

    async def _serve(self, stop: asyncio.Event) -> None:
        next_take_over = next_claim = 0.0
        while not stop.is_set():
            await self._switch_if_promoted()
            entries: Entries = []
            if time.monotonic() >= next_take_over:
                entries = await self._take_over()
                next_take_over = time.monotonic() + self.heartbeat_ms / 1000
            if not entries and time.monotonic() >= next_claim:
                entries = await self._claim()
                next_claim = time.monotonic() + self.claim_idle_ms / 2000
            if not entries:
                entries = await self._read()
            if entries:
                await self.handle(entries)

    async def _switch_if_promoted(self) -> None:
        """Between batches: serve the bundle the watch has ready, and tell the bots what serves now."""
        if self.watch is None or (switched := self.watch.take()) is None:
            return
        self.recognizer = switched
        await self._redis.set(self.keys.model, ServedModel.of(switched.bundle).to_json())

    async def _beat(self) -> None:
        await self._redis.set(self.keys.alive(self.name), 1, px=self.heartbeat_ms * HEARTBEAT_LIVES)

    async def _keep_beating(self, leaving: asyncio.Event) -> None:
        """Refresh the heartbeat from the event loop, so it goes on while a batch runs in its thread."""
        while not leaving.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leaving.wait(), self.heartbeat_ms / 1000)
            if leaving.is_set():
                return
            try:
                await self._beat()
            except RedisError:
                _LOGGER.warning("heartbeat of %s failed; others may take over its jobs", self.name)

    async def _leave(self) -> None:
        """Drop the heartbeat and this consumer (if it holds no job; else the others take those over)."""
        await self._redis.delete(self.keys.alive(self.name))
        await self._forget_dead(keys=[self.keys.jobs, self.keys.alive(self.name)], args=[GROUP, self.name])

    async def _take_over(self) -> Entries:
        """Claim the jobs of consumers whose heartbeat has lapsed, and forget those that hold none.

        XCLAIM's minimum idle time of one beat makes two workers racing for the same jobs claim them once
        (a claim resets the idle time), and spares jobs that a worker back from a stall has just read.
        """
        consumers: Any = await self._redis.xinfo_consumers(self.keys.jobs, GROUP)
        others = [(c["name"].decode(), int(c["pending"])) for c in consumers]
        others = [(name, pending) for name, pending in others if name != self.name]
        if not others:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for name, _pending in others:
            pipe.exists(self.keys.alive(name))
        alive: list[int] = await pipe.execute()
        claimed: Entries = []
        for (name, pending), beating in zip(others, alive, strict=True):
            if beating:
                continue
            room = self.max_batch - len(claimed)
            if pending and room > 0:
                claimed += await self._claim_from(name, room)
            if await self._forget_dead(keys=[self.keys.jobs, self.keys.alive(name)], args=[GROUP, name]):
                _LOGGER.info("forgot dead worker %s", name)
        if claimed:
            _LOGGER.warning("took over %d jobs of dead workers", len(claimed))
        return claimed

    async def _claim_from(self, consumer: str, count: int) -> Entries:
        held: Any = await self._redis.xpending_range(
            self.keys.jobs, GROUP, min="-", max="+", count=count, consumername=consumer
        )
        if not held:  # taken by another worker since XINFO CONSUMERS
            return []
        taken: Any = await self._redis.xclaim(
            self.keys.jobs,
            GROUP,
            self.name,
            min_idle_time=self.heartbeat_ms,
            message_ids=[p["message_id"] for p in held],
        )
        return [(entry_id, fields) for entry_id, fields in taken if fields]

    async def _claim(self) -> Entries:
        result: Any = await self._redis.xautoclaim(
            self.keys.jobs,
            GROUP,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.max_batch,
        )
        claimed = [(entry_id, fields) for entry_id, fields in result[1] if fields]
        if claimed:
            _LOGGER.warning("took over %d jobs idle for %d ms", len(claimed), self.claim_idle_ms)
        return claimed

    async def _read(self) -> Entries:
        start = self._history if self._history is not None else b">"
        batches: Any = await self._redis.xreadgroup(
            GROUP, self.name, {self.keys.jobs: start}, count=self.max_batch, block=self.max_wait_ms
        )
        entries = [entry for _stream, entries in batches or [] for entry in entries]
        if self._history is None:
            return entries
        self._history = entries[-1][0] if entries else None
        gone = [entry_id for entry_id, fields in entries if not fields]
        if gone:  # trimmed from the stream: nothing left to answer
            await self._redis.xack(self.keys.jobs, GROUP, *gone)
        return [(entry_id, fields) for entry_id, fields in entries if fields]

    async def handle(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Answer a batch: dead-letter jobs that keep failing, recognize the rest, store, notify, ack."""
        jobs = [_job(entry_id, fields) for entry_id, fields in entries]
        deliveries = await self._deliveries([job.entry_id for job in jobs])
        dead = [job for job in jobs if deliveries.get(job.entry_id, 1) > MAX_DELIVERIES]
        live = [job for job in jobs if job not in dead]
        answers: list[Recognition] = []
        if live:
            started = time.perf_counter()
            metrics.BATCH_SIZE.labels(BACKEND).observe(len(live))
            try:
                answers = await asyncio.to_thread(self.recognizer.predict, [job.image for job in live])
            except Exception:
                _LOGGER.exception("a batch of %d failed; its jobs will be retried", len(live))
                return  # not acknowledged: retried after claim_idle_ms, dead-lettered if it keeps failing
            metrics.INFERENCE_SECONDS.labels(BACKEND).observe(time.perf_counter() - started)
        pipe = self._redis.pipeline(transaction=False)
        for job, answer in zip(live, answers, strict=True):
            self._answer(pipe, job, answer)
        for job in dead:
            _LOGGER.error("job %s failed %d times; dead-lettered", job.id, deliveries[job.entry_id])
            metrics.ERRORS.labels(BACKEND, "dead").inc()
            pipe.xadd(
                self.keys.dead, {"id": job.id, "reply": job.reply}, maxlen=STREAM_MAXLEN, approximate=True
            )
            self._answer(
                pipe, job, Recognition.failed(self.recognizer.bundle_id, DEAD_MESSAGE, kind="internal")
            )
        await pipe.execute()
        self.answered += len(jobs)

    def _answer(self, pipe: Any, job: _Job, answer: Recognition) -> None:
        if not job.id:
            answer = Recognition.failed(self.recognizer.bundle_id, INTERNAL_MESSAGE, kind="internal")
        payload = answer.to_json()
        pipe.set(self.keys.answer(job.id), payload, ex=ANSWER_TTL_S)
        pipe.set(self.keys.worker_of(job.id), self.name, ex=ANSWER_TTL_S)
        if job.reply:
            pipe.xadd(job.reply, {"id": job.id}, maxlen=STREAM_MAXLEN, approximate=True)
        pipe.xack(self.keys.jobs, GROUP, job.entry_id)

    async def _deliveries(self, entry_ids: list[bytes]) -> dict[bytes, int]:
        """How many times each entry has been delivered (XPENDING), to spot jobs that keep failing."""
        if not entry_ids:
            return {}
        ids = sorted(entry_ids, key=lambda e: tuple(int(p) for p in e.split(b"-")))
        pending: Any = await self._redis.xpending_range(
            self.keys.jobs, GROUP, min=ids[0], max=ids[-1], count=len(ids) * 4 + 100
        )
        wanted = set(entry_ids)
        return {p["message_id"]: int(p["times_delivered"]) for p in pending if p["message_id"] in wanted}
