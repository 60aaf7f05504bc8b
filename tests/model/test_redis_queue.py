"""The Redis Streams queue with real Redis and real worker processes.

Two workers share the load; a worker killed with SIGKILL mid-batch has its jobs taken over and every
photo is answered exactly once to the bot; a restarted bot gets answers of jobs it had in flight; a job
that keeps killing workers is dead-lettered; a full queue answers "busy".
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from redis.asyncio import Redis

from model.bundle import ModelBundle
from model.recognizer import Recognizer
from model.redis_queue import RedisQueue
from model.redis_streams import GROUP, MAX_DELIVERIES, Keys, job_id
from model.worker import StreamWorker
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
    redis = Redis.from_url(url)
    try:
        names = [await redis.get(keys.worker_of(job_id(image))) for image in images]
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
    served_by = await _worker_of(url, keys, images)
    assert set(served_by) == {"w1", "w2"}, served_by


async def test_a_killed_worker_s_jobs_are_taken_over_and_answered_once(
    url: str, keys: Keys, workers: Workers
) -> None:
    doomed = await workers.start("doomed", "--max-batch", "8")
    bot = RedisQueue(url, prefix=keys.prefix, timeout_s=120)
    await bot.start()
    images = coffee_variants(40)
    try:
        calls = [asyncio.create_task(bot.recognize(image)) for image in images]
        redis = Redis.from_url(url)
        for _ in range(600):  # until the doomed worker has answered some and holds others unacknowledged
            if await redis.exists(*(keys.answer(job_id(i)) for i in images[:8])):
                break
            await asyncio.sleep(0.05)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        pending = await redis.xpending(keys.jobs, GROUP)
        await workers.start("rescuer", "--max-batch", "8", "--claim-idle-ms", "500")
        answers = await asyncio.gather(*calls)
        after = await redis.xpending(keys.jobs, GROUP)
        await redis.aclose()
    finally:
        await bot.close()
    assert len(answers) == len(images)
    assert all(a.error is None and a.foods[0].key == "espresso" for a in answers), "every photo answered"
    assert after["pending"] == 0, "every job acknowledged"
    served_by = set(await _worker_of(url, keys, images))
    assert "rescuer" in served_by
    assert pending["pending"] > 0 or served_by == {"rescuer"}, "the kill left jobs to take over"


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
