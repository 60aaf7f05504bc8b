"""The Redis Streams queue with real Redis and real worker processes.

Two workers share the load; a worker killed with SIGKILL mid-batch has its jobs answered by another
within seconds and every photo is answered to the bot; a worker that dies mid-batch (its task cancelled,
its heartbeat stopped) has its jobs answered by another within seconds, while a slow but alive one keeps
its own; a worker restarted under its name answers the jobs it held; a restarted bot gets answers of
jobs it had in flight; a job that keeps killing workers is dead-lettered; a full queue answers "busy".
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from redis.asyncio import Redis

from model.bundle import DEFAULT_SERVED, ModelBundle, ServedModel
from model.recognition import Recognition
from model.recognizer import Recognizer
from model.redis_queue import RedisQueue
from model.redis_streams import GROUP, MAX_DELIVERIES, Keys, job_id
from model.worker import HEARTBEAT_LIVES, StreamWorker
from tests.conftest import photo
from tests.services import redis_url

FOODBOT = str(Path(sys.executable).parent / "foodbot")


def coffee_variants(count: int) -> list[bytes]:
    """Distinct JPEGs of the espresso photo (small crops), so each is its own job."""
    image = Image.open(io.BytesIO(photo("coffee.png"))).convert("RGB")
    out = []
    for n in range(count):
        buffer = io.BytesIO()
        image.crop((n % 20, n // 20, 580 + n % 20, 380 + n // 20)).save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


@pytest.fixture
def url() -> str:
    return redis_url()


@pytest.fixture
async def keys(url: str) -> AsyncIterator[Keys]:
    """A fresh key prefix per test, deleted afterwards."""
    keys = Keys(f"foodbot-test-{uuid.uuid4().hex[:8]}")
    yield keys
    redis = Redis.from_url(url)
    async for key in redis.scan_iter(match=f"{keys.prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


class Workers:
    """`foodbot worker` subprocesses."""

    def __init__(self, url: str, keys: Keys, data_dir: Path, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "QUEUE_URL": url,
            "QUEUE_PREFIX": keys.prefix,
            "DATA_DIR": str(data_dir),
            "DEVICE": "cpu",
        }
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self, name: str, *args: str) -> asyncio.subprocess.Process:
        """Start a worker and wait for its "ready" line (its output goes to a file, never a full pipe)."""
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                FOODBOT, "worker", "--name", name, *args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        for _ in range(1200):
            if b"ready" in log.read_bytes():
                return process
            assert process.returncode is None, f"worker {name} exited: {log.read_text()}"
            await asyncio.sleep(0.1)
        raise TimeoutError(f"worker {name} not ready: {log.read_text()}")


@pytest.fixture
async def workers(
    url: str, keys: Keys, data_dir: Path, default_bundle: ModelBundle, tmp_path: Path
) -> AsyncIterator[Workers]:
    pool = Workers(url, keys, data_dir, tmp_path)
    yield pool
    for process in pool.processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _worker_of(url: str, keys: Keys, images: list[bytes]) -> list[str]:
    return await _worker_of_jobs(url, keys, [job_id(image) for image in images])


async def _worker_of_jobs(url: str, keys: Keys, jobs: list[str]) -> list[str]:
    redis = Redis.from_url(url)
    try:
        names = [await redis.get(keys.worker_of(job)) for job in jobs]
    finally:
        await redis.aclose()
    return [n.decode() if isinstance(n, bytes) else (n or "") for n in names]


async def test_two_workers_share_the_load(url: str, keys: Keys, workers: Workers) -> None:
    await workers.start("w1", "--max-batch", "4")
    await workers.start("w2", "--max-batch", "4")
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    images = coffee_variants(32)
    try:
        answers = await asyncio.gather(*(bot.recognize(image) for image in images))
    finally:
        await bot.close()
    assert all(a.error is None and a.foods[0].key == "espresso" for a in answers)
    assert all(len(a.embedding) == 2 * 1280 for a in answers), "the embedding travels with the answer"
    assert all(a.bundle_id == bot.served.bundle_id for a in answers)
    served_by = await _worker_of(url, keys, images)
    assert set(served_by) == {"w1", "w2"}, served_by


async def _held_jobs(redis: Redis, keys: Keys, consumer: str) -> list[str]:
    """The ids of the jobs `consumer` has read and not acknowledged."""
    held: Any = await redis.xpending_range(
        keys.jobs, GROUP, min="-", max="+", count=1000, consumername=consumer
    )
    jobs = []
    for entry in held:
        entries: Any = await redis.xrange(keys.jobs, min=entry["message_id"], max=entry["message_id"])
        jobs += [fields[b"id"].decode() for _entry_id, fields in entries]
    return jobs


async def test_a_killed_worker_s_jobs_are_answered_by_another_within_seconds(
    url: str, keys: Keys, workers: Workers
) -> None:
    doomed, _survivor = await asyncio.gather(
        workers.start("doomed", "--max-batch", "8"), workers.start("survivor", "--max-batch", "8")
    )
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    images = coffee_variants(40)
    redis = Redis.from_url(url)
    try:
        calls = [asyncio.create_task(bot.recognize(image)) for image in images]
        held: list[str] = []
        for _ in range(1000):  # until the doomed worker is in the middle of a batch
            held = await _held_jobs(redis, keys, "doomed")
            if held:
                break
            await asyncio.sleep(0.01)
        doomed.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await doomed.wait()
        while await redis.exists(*(keys.answer(job) for job in held)) < len(held):
            assert time.monotonic() - killed < 20, "the dead worker's jobs were never answered"
            await asyncio.sleep(0.05)
        taken_over_s = time.monotonic() - killed
        answers = await asyncio.gather(*calls)
        after = await redis.xpending(keys.jobs, GROUP)
    finally:
        await redis.aclose()
        await bot.close()
    assert held, "the kill left jobs to take over"
    assert taken_over_s < 10, f"the dead worker's jobs were answered {taken_over_s:.1f} s after the kill"
    assert len(answers) == len(images)
    assert all(a.error is None and a.foods[0].key == "espresso" for a in answers), "every photo answered"
    assert after["pending"] == 0, "every job acknowledged"
    assert "survivor" in set(await _worker_of_jobs(url, keys, held))


async def test_a_restarted_bot_gets_the_answers_of_jobs_in_flight(
    url: str, keys: Keys, default_bundle: ModelBundle
) -> None:
    image = coffee_variants(1)[0]
    first = RedisQueue(url, prefix=keys.prefix, timeout_s=0.5)
    await first.start()
    assert (await first.recognize(image)).error_kind == "timeout", "no worker yet"
    await first.close()  # the bot goes down with the job in the stream
    worker = StreamWorker(Recognizer(default_bundle, "cpu"), url, prefix=keys.prefix)
    stop = asyncio.Event()
    serving = asyncio.create_task(worker.run(stop))
    redis = Redis.from_url(url)
    for _ in range(400):
        if await redis.exists(keys.answer(job_id(image))):
            break
        await asyncio.sleep(0.05)
    jobs_before = await redis.xlen(keys.jobs)
    second = RedisQueue(url, prefix=keys.prefix)
    await second.start()
    answer = await second.recognize(image)
    jobs_after = await redis.xlen(keys.jobs)
    stop.set()
    await serving
    await second.close()
    await redis.aclose()
    assert answer.foods[0].key == "espresso"
    assert jobs_after == jobs_before, "the stored answer was reused, no new job"


async def test_a_job_that_keeps_failing_is_dead_lettered(
    url: str, keys: Keys, default_bundle: ModelBundle
) -> None:
    redis = Redis.from_url(url)
    worker = StreamWorker(Recognizer(default_bundle, "cpu"), url, prefix=keys.prefix, claim_idle_ms=1)
    await worker.ensure_group()
    image = coffee_variants(1)[0]
    bot = RedisQueue(url, prefix=keys.prefix, timeout_s=30)
    await bot.start()
    asking = asyncio.create_task(bot.recognize(image))
    for _ in range(100):
        if await redis.xlen(keys.jobs):
            break
        await asyncio.sleep(0.02)
    for crash in range(MAX_DELIVERIES):  # workers that took the job and died before answering
        await redis.xreadgroup(GROUP, f"crashed-{crash}", {keys.jobs: ">" if crash == 0 else "0"}, count=1)
        if crash:
            await redis.xautoclaim(keys.jobs, GROUP, f"crashed-{crash}", min_idle_time=0, start_id="0-0")
        await asyncio.sleep(0.01)
    stop = asyncio.Event()
    serving = asyncio.create_task(worker.run(stop))
    answer = await asking
    stop.set()
    await serving
    await bot.close()
    dead = await redis.xlen(keys.dead)
    pending = await redis.xpending(keys.jobs, GROUP)
    await redis.aclose()
    assert answer.error and answer.error_kind == "internal"
    assert dead == 1 and pending["pending"] == 0


async def test_busy_when_too_many_photos_wait(url: str, keys: Keys) -> None:
    bot = RedisQueue(url, prefix=keys.prefix, max_pending=1, timeout_s=1)
    await bot.start()
    first_image, second_image = coffee_variants(2)
    try:
        first = asyncio.create_task(bot.recognize(first_image))
        await asyncio.sleep(0.1)
        second = await bot.recognize(second_image)
        assert second.error_kind == "busy"
        assert (await first).error_kind == "timeout"
    finally:
        await bot.close()


class HungRecognizer(Recognizer):
    """The real model, but every batch hangs in its thread (until `release`), as one that kills its worker.

    `batches` gets each batch's size as it starts, so a test knows the worker is mid-batch.
    """

    def __init__(self, bundle: ModelBundle) -> None:
        super().__init__(bundle, "cpu")
        self.batches: queue.Queue[int] = queue.Queue()
        self.release = threading.Event()

    def predict(self, images: Sequence[bytes]) -> list[Recognition]:
        self.batches.put(len(images))
        self.release.wait()
        return [Recognition.failed(self.bundle_id, "the worker died", kind="internal") for _ in images]

    async def next_batch(self) -> int:
        return await asyncio.to_thread(self.batches.get, True, 30)


class SlowRecognizer(Recognizer):
    """The real model, each batch repeated for `seconds`: a long forward pass that holds its thread."""

    def __init__(self, bundle: ModelBundle, seconds: float) -> None:
        super().__init__(bundle, "cpu")
        self.seconds = seconds
        self.started = threading.Event()

    def predict(self, images: Sequence[bytes]) -> list[Recognition]:
        self.started.set()
        deadline = time.monotonic() + self.seconds
        answers = super().predict(images)
        while time.monotonic() < deadline:
            answers = super().predict(images)
        return answers


class Serving:
    """StreamWorkers running as tasks of the test's event loop.

    `kill` cancels one wherever it is (mid-batch): it acknowledges nothing and says no goodbye, its
    heartbeat simply stops and lapses, as when a worker process dies.
    """

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, worker: StreamWorker) -> StreamWorker:
        self.tasks[worker.name] = asyncio.create_task(worker.run(self.stop))
        return worker

    async def kill(self, name: str) -> None:
        task = self.tasks.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks.values())


@pytest.fixture
async def serving() -> AsyncIterator[Serving]:
    pool = Serving()
    yield pool
    await pool.close()


@pytest.fixture
def hung(default_bundle: ModelBundle) -> Iterator[HungRecognizer]:
    recognizer = HungRecognizer(default_bundle)
    yield recognizer
    recognizer.release.set()  # let the dead workers' threads end


async def _consumers(url: str, keys: Keys) -> set[str]:
    redis = Redis.from_url(url)
    try:
        consumers = await redis.xinfo_consumers(keys.jobs, GROUP)
    finally:
        await redis.aclose()
    return {c["name"].decode() for c in consumers}


async def test_a_dead_worker_s_jobs_are_answered_by_another_within_seconds(
    url: str, keys: Keys, serving: Serving, hung: HungRecognizer, recognizer: Recognizer
) -> None:
    serving.start(StreamWorker(hung, url, prefix=keys.prefix, name="doomed", max_batch=8))
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    try:
        images = coffee_variants(8)
        asks = [asyncio.create_task(bot.recognize(image)) for image in images]
        assert await hung.next_batch() > 0
        survivor = serving.start(StreamWorker(recognizer, url, prefix=keys.prefix, name="survivor"))
        await serving.kill("doomed")
        killed = time.monotonic()
        answers = await asyncio.gather(*asks)
        answered_s = time.monotonic() - killed
    finally:
        await bot.close()
    assert answered_s < 10, f"answered {answered_s:.1f} s after the death"
    assert all(a.error is None and a.foods[0].key == "espresso" for a in answers), "the real answers"
    assert set(await _worker_of(url, keys, images)) == {"survivor"}
    assert survivor.answered == len(images)
    assert await _consumers(url, keys) == {"survivor"}, "the dead worker was removed from the group"


async def test_a_slow_worker_keeps_its_jobs(
    url: str, keys: Keys, serving: Serving, default_bundle: ModelBundle, recognizer: Recognizer
) -> None:
    beat_ms = 200
    slow = SlowRecognizer(default_bundle, seconds=3 * beat_ms * HEARTBEAT_LIVES / 1000)
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    redis = Redis.from_url(url)
    try:
        images = coffee_variants(2)
        asks = [asyncio.create_task(bot.recognize(image)) for image in images]
        while await redis.xlen(keys.jobs) < len(images):  # so the slow worker takes both in one batch
            await asyncio.sleep(0.01)
        serving.start(StreamWorker(slow, url, prefix=keys.prefix, name="slow", heartbeat_ms=beat_ms))
        assert await asyncio.to_thread(slow.started.wait, 30)
        rival = serving.start(
            StreamWorker(recognizer, url, prefix=keys.prefix, name="rival", heartbeat_ms=beat_ms)
        )
        answers = await asyncio.gather(*asks)
    finally:
        await redis.aclose()
        await bot.close()
    assert all(a.error is None and a.foods[0].key == "espresso" for a in answers)
    assert set(await _worker_of(url, keys, images)) == {"slow"}
    assert rival.answered == 0, "the alive worker's jobs were not taken over"


async def test_a_job_that_kills_three_workers_is_dead_lettered(
    url: str, keys: Keys, serving: Serving, hung: HungRecognizer, recognizer: Recognizer
) -> None:
    beat_ms = 200
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    try:
        asking = asyncio.create_task(bot.recognize(coffee_variants(1)[0]))
        for death in range(MAX_DELIVERIES):  # each takes the job over from the last, and dies of it
            name = f"doomed-{death}"
            serving.start(StreamWorker(hung, url, prefix=keys.prefix, name=name, heartbeat_ms=beat_ms))
            assert await hung.next_batch() == 1
            await serving.kill(name)
        serving.start(StreamWorker(recognizer, url, prefix=keys.prefix, name="last", heartbeat_ms=beat_ms))
        answer = await asking
    finally:
        await bot.close()
    redis = Redis.from_url(url)
    dead = await redis.xlen(keys.dead)
    pending = await redis.xpending(keys.jobs, GROUP)
    await redis.aclose()
    assert answer.error and answer.error_kind == "internal"
    assert dead == 1 and pending["pending"] == 0
    assert await _consumers(url, keys) == {"last"}


async def test_a_worker_restarted_under_its_name_answers_the_jobs_it_held(
    url: str, keys: Keys, serving: Serving, hung: HungRecognizer, recognizer: Recognizer
) -> None:
    serving.start(StreamWorker(hung, url, prefix=keys.prefix, name="gpu-1"))
    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    try:
        image = coffee_variants(1)[0]
        asking = asyncio.create_task(bot.recognize(image))
        assert await hung.next_batch() == 1
        await serving.kill("gpu-1")
        # Back at once, its heartbeat not yet lapsed: nobody else would take its job over for now.
        restarted = serving.start(StreamWorker(recognizer, url, prefix=keys.prefix, name="gpu-1"))
        answer = await asyncio.wait_for(asking, 10)
    finally:
        await bot.close()
    assert answer.error is None and answer.foods[0].key == "espresso"
    assert restarted.answered == 1


async def test_the_bot_learns_what_the_workers_serve_even_when_they_start_after_it(
    url: str, keys: Keys, default_bundle: ModelBundle, serving: Serving
) -> None:
    """A bot never loads the model: the input size and "unsure" threshold come from the workers."""
    redis = Redis.from_url(url)
    try:
        await redis.set(keys.model, ServedModel(260, 0.5, "an-older-bundle").to_json())
        earlier = RedisQueue(url, prefix=keys.prefix)
        await earlier.start()
        await earlier.close()
        await redis.delete(keys.model)
    finally:
        await redis.aclose()
    assert earlier.served == ServedModel(260, 0.5, "an-older-bundle"), "read as the bot starts"

    bot = RedisQueue(url, prefix=keys.prefix)
    await bot.start()
    try:
        assert bot.served == DEFAULT_SERVED, "no worker has said anything yet"
        serving.start(StreamWorker(Recognizer(default_bundle, "cpu"), url, prefix=keys.prefix))
        answer = await bot.recognize(coffee_variants(1)[0])
    finally:
        await bot.close()
    assert answer.foods[0].key == "espresso"
    assert bot.served == ServedModel.of(default_bundle)
    assert replace(bot.served, bundle_id="") == DEFAULT_SERVED, "the default assumed is the default bundle's"
