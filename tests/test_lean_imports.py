"""Lean processes: a bot replica and a CPU worker never import what they do not use.

PyTorch (with timm and torchvision) costs a few hundred MB and seconds at start; ONNX Runtime tens of
MB. A `foodbot run` replica whose model runs in workers (`QUEUE_URL`) needs none of them, and a CPU
`foodbot worker` serving an ONNX bundle needs ONNX Runtime only. Each process here is the real command,
run to the end (it answers, then stops on SIGTERM), listing the modules it imported as it exits.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from model.bundle import ModelBundle
from model.redis_queue import RedisQueue
from tests.bot.processes import foodbot_env
from tests.conftest import photo
from tests.services import redis_url
from tests.telegram_fake import FakeTelegram

#: `foodbot ARGS...` (foodbot.cli.main, as the console script runs it) that writes the names of the modules
#: it imported to the file named by its first argument when it exits.
_FOODBOT_LISTING_MODULES = """
import atexit, sys
atexit.register(lambda: open(sys.argv[1], "w").write("\\n".join(sorted(sys.modules))))
from foodbot.cli import main
sys.exit(main(sys.argv[2:]))
"""
HEAVY = ("torch", "torchvision", "timm", "onnxruntime")


def _heavy(modules: Path) -> set[str]:
    return {name.split(".")[0] for name in modules.read_text().split()} & set(HEAVY)


async def _foodbot(modules: Path, log: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _FOODBOT_LISTING_MODULES,
            str(modules),
            *args,
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _stop(process: asyncio.subprocess.Process, log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0, log.read_text()


@pytest.fixture
async def queue_env() -> AsyncIterator[dict[str, str]]:
    """QUEUE_URL and a fresh QUEUE_PREFIX, whose keys are deleted afterwards."""
    url = redis_url()
    prefix = f"foodbot-test-{uuid.uuid4().hex[:8]}"
    yield {"QUEUE_URL": url, "QUEUE_PREFIX": prefix}
    redis = Redis.from_url(url)
    async for key in redis.scan_iter(match=f"{prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def test_a_replica_with_the_model_in_workers_imports_no_model_library_and_builds_no_bundle(
    tmp_path: Path, queue_env: dict[str, str]
) -> None:
    fresh = tmp_path / "data"  # no model bundle here, and none may be built
    modules, log = tmp_path / "modules.txt", tmp_path / "run.log"
    async with FakeTelegram() as tg:
        ann = tg.user(1001, "Ann")
        env = foodbot_env(
            fresh,
            TELEGRAM_BOT_TOKEN=tg.token,
            TELEGRAM_API_BASE_URL=tg.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
            **queue_env,
        )
        process = await _foodbot(modules, log, env, "run")
        try:
            await ann.send_text("/help")
            reply = await tg.next_bot_message(ann.chat_id, timeout=60)
            assert reply.text and "/today" in reply.text
        finally:
            await _stop(process, log)
    assert _heavy(modules) == set()
    assert not (fresh / "models").exists(), "a replica never builds the default bundle"


async def test_a_cpu_worker_serving_an_onnx_bundle_does_not_import_torch(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle, queue_env: dict[str, str]
) -> None:
    assert default_bundle.onnx_path is not None
    modules, log = tmp_path / "modules.txt", tmp_path / "worker.log"
    env = foodbot_env(data_dir, **queue_env)  # DEVICE=cpu
    process = await _foodbot(modules, log, env, "worker", "--name", "lean")
    try:
        for _ in range(600):
            if b"ready" in log.read_bytes():
                break
            assert process.returncode is None, log.read_text()
            await asyncio.sleep(0.1)
        bot = RedisQueue(queue_env["QUEUE_URL"], prefix=queue_env["QUEUE_PREFIX"])
        await bot.start()
        try:
            answer = await bot.recognize(photo("coffee.png"))
        finally:
            await bot.close()
        assert answer.foods[0].key == "espresso"
        assert bot.served.bundle_id == default_bundle.id, "the worker said what it serves"
    finally:
        await _stop(process, log)
    assert _heavy(modules) == {"onnxruntime"}


def test_benchmarking_an_onnx_bundle_on_the_cpu_loads_no_pytorch(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    modules = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", _FOODBOT_LISTING_MODULES, str(modules), "bench", "--json", "--seconds", "0.5"],
        env=foodbot_env(data_dir, DEVICE="cpu"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"runtime": "onnxruntime-cpu"' in done.stdout
    assert _heavy(modules) == {"onnxruntime"}
