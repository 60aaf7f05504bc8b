"""`foodbot worker`: a standalone inference worker on Redis Streams, for GPU machines.

Each worker is a consumer in the group `workers` of the jobs stream. A loop: take over jobs a dead worker
left unacknowledged for `claim_idle_ms` (XAUTOCLAIM), else read new ones (XREADGROUP, COUNT = max batch,
BLOCK = max wait); recognize them in one batch; store each answer, tell the asking bot on its reply stream,
and only then XACK. A job delivered more than `MAX_DELIVERIES` times (it keeps killing workers) is
dead-lettered: it gets an error answer and a copy in the dead stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from model import metrics
from model.queue import INTERNAL_MESSAGE
from model.recognition import Recognition
from model.recognizer import Recognizer
from model.redis_streams import ANSWER_TTL_S, GROUP, MAX_DELIVERIES, STREAM_MAXLEN, Keys

_LOGGER = logging.getLogger(__name__)
BACKEND = "redis-worker"
DEAD_MESSAGE = "That photo could not be processed — please send another one."


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
    ) -> None:
        self.recognizer = recognizer
        self.keys = Keys(prefix)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.claim_idle_ms = claim_idle_ms
        self._redis: Redis = Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
        self.answered = 0

    async def ensure_group(self) -> None:
        """Create the stream and the consumer group if they do not exist yet."""
        try:
            await self._redis.xgroup_create(self.keys.jobs, GROUP, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; a batch in progress is finished and acknowledged first."""
        await self.ensure_group()
        _LOGGER.info("worker %s serving %s", self.name, self.keys.jobs)
        next_claim = 0.0
        while not stop.is_set():
            entries: list[tuple[bytes, dict[bytes, bytes]]] = []
            if time.monotonic() >= next_claim:
                entries = await self._claim()
                next_claim = time.monotonic() + self.claim_idle_ms / 2000
            if not entries:
                entries = await self._read()
            if entries:
                await self.handle(entries)
        await self._redis.aclose()

    async def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
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
            _LOGGER.warning("took over %d jobs of a stopped worker", len(claimed))
        return claimed

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        batches: Any = await self._redis.xreadgroup(
            GROUP, self.name, {self.keys.jobs: ">"}, count=self.max_batch, block=self.max_wait_ms
        )
        return [entry for _stream, entries in batches or [] for entry in entries]

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
