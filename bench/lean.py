"""Benchmark: how small and how quick to start the bot and worker processes are.

    .venv/bin/python bench/lean.py [--photos 4] [--imports 3] [--data-dir ./data] [--redis URL]

Each process is started as a host starts it, against the loopback Bot API server (tests/telegram_fake)
in this process, with a fresh SQLite database:

* `replica`: `foodbot run` with `QUEUE_URL` (the model in workers elsewhere) and a fresh, empty
  DATA_DIR (no model bundle there). "/help" is sent right after the process is spawned; `startup_s` is
  the time from spawning to its answer. Then `--photos` photos go through it to the worker below.
* `worker`: a CPU `foodbot worker` (`DEVICE=cpu`) serving the default bundle's ONNX export, measured
  after it has answered those photos.
* `inprocess`: `foodbot run` with `QUEUE_URL` empty (`make run`: the model in the bot's process), with
  the default bundle already built in `--data-dir`, after answering "/help" and the same photos.

For each: `peak_rss_mb` is VmHWM from the child's /proc/PID/status (the peak since the process began),
`rss_mb` its VmRSS at the end, `torch_loaded` / `onnxruntime_loaded` whether the library is mapped in the
process (/proc/PID/maps). `import_s` (replica) is the median over `--imports` fresh interpreters of
importing what `foodbot run` imports (`foodbot.cli`, `bot.app`) with the replica's environment.

Prints one JSON object. To measure other code with this script (e.g. the last commit, exported with
`git archive HEAD | tar -x -C /tmp/base`), run it with `PYTHONPATH=/tmp/base`: the children then import
that code; `code` in the output says which they did. The bot and worker are always stopped (SIGTERM,
then SIGKILL), and the Redis keys of the run are deleted, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/telegram_fake is not an installed package

from PIL import Image  # noqa: E402

from tests.bot.processes import FOODBOT, foodbot_env  # noqa: E402
from tests.telegram_fake import FakeTelegram, FakeUser  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PHOTOS = ("coffee.png", "orange.jpg", "fruits.jpg", "apple.jpg", "chelsea.png")
#: Building the default bundle (the in-process bot's first start) takes a while on a small machine.
READY_TIMEOUT_S = 600.0
ANSWER_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
_IMPORT_PROBE = """
import json, os, sys, time
started = time.perf_counter()
import foodbot.cli, bot.app
took = time.perf_counter() - started
code = os.path.dirname(os.path.dirname(bot.__file__))
print(json.dumps({"import_s": took, "code": code, "torch_imported": "torch" in sys.modules}))
"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--photos", type=int, default=4, help="photos through each model (4)")
    parser.add_argument("--imports", type=int, default=3, help="interpreters timing the imports (3)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="DATA_DIR with the default bundle"
    )
    parser.add_argument(
        "--redis", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), help="QUEUE_URL"
    )
    args = parser.parse_args()
    if args.photos < 1 or args.imports < 1:
        parser.error("--photos and --imports must be at least 1")
    return args


def fixture_photos(count: int) -> list[bytes]:
    """`count` committed photos as 640 px JPEGs, each a little different so each is its own job."""
    photos = []
    for n in range(count):
        with Image.open(FIXTURES / PHOTOS[n % len(PHOTOS)]) as image:
            rgb = image.convert("RGB")
        rgb.thumbnail((640, 640))
        buffer = io.BytesIO()
        rgb.crop((n, 0, rgb.width, rgb.height)).save(buffer, "JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


def memory(pid: int) -> dict[str, Any]:
    """Peak and current RSS of a running process, and whether PyTorch / ONNX Runtime are loaded in it."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {
        "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "torch_loaded": "libtorch" in maps,
        "onnxruntime_loaded": "onnxruntime" in maps,
    }


def import_time(env: dict[str, str], runs: int, cwd: Path) -> dict[str, Any]:
    """The median time of `foodbot run`'s imports in fresh interpreters (cwd outside the checkout, so
    PYTHONPATH decides which code is imported)."""
    probes = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        probes.append(json.loads(done.stdout))
    return {
        "import_s": round(statistics.median(p["import_s"] for p in probes), 3),
        "import_runs_s": [round(p["import_s"], 3) for p in probes],
        "torch_imported": probes[0]["torch_imported"],
        "code": probes[0]["code"],
    }


async def spawn(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    """A `foodbot` subprocess whose output goes to `log` (never a pipe that could fill up)."""
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            FOODBOT, *args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


async def answer_to(
    tg: FakeTelegram, user: FakeUser, process: asyncio.subprocess.Process, log: Path
) -> float:
    """Seconds until the bot's next message to `user`; fails with the bot's log if it died first."""
    started = time.perf_counter()
    seen = len(tg.bot_messages(user.chat_id))
    while len(tg.bot_messages(user.chat_id)) <= seen:
        if process.returncode is not None:
            raise RuntimeError(f"the bot exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.perf_counter() - started > READY_TIMEOUT_S:
            raise TimeoutError(f"no answer in {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def start_and_help(
    tg: FakeTelegram, user: FakeUser, env: dict[str, str], cwd: Path, log: Path
) -> tuple[asyncio.subprocess.Process, float]:
    """`foodbot run`, with "/help" sent right after spawning; returns it and the seconds to the answer."""
    started = time.perf_counter()
    process = await spawn(["run"], env, cwd, log)
    await user.send_text("/help")
    await answer_to(tg, user, process, log)
    return process, round(time.perf_counter() - started, 3)


async def send_photos(
    tg: FakeTelegram, user: FakeUser, photos: list[bytes], process: asyncio.subprocess.Process, log: Path
) -> float:
    """Sends the photos one by one, each after the card of the one before; returns the seconds taken."""
    started = time.perf_counter()
    for n, data in enumerate(photos, 1):
        seen = len(tg.bot_messages(user.chat_id))
        await user.send_photo(data, caption=f"lean #{n}")
        while not any(f"lean #{n}" in (m.text or "") for m in tg.bot_messages(user.chat_id)[seen:]):
            if process.returncode is not None:
                raise RuntimeError(f"the bot exited ({process.returncode}): {log.read_text()[-2000:]}")
            if time.perf_counter() - started > ANSWER_TIMEOUT_S * len(photos):
                raise TimeoutError(f"photo {n} got no card: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.02)
    return round(time.perf_counter() - started, 3)


async def wait_ready(process: asyncio.subprocess.Process, log: Path) -> float:
    """Seconds until a worker prints its "ready" line."""
    started = time.perf_counter()
    while b"ready" not in log.read_bytes():
        if process.returncode is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.perf_counter() - started > READY_TIMEOUT_S:
            raise TimeoutError(f"worker not ready: {log.read_text()[-2000:]}")
        await asyncio.sleep(0.05)
    return round(time.perf_counter() - started, 3)


async def drop_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data_dir = args.data_dir.resolve()
    photos = fixture_photos(args.photos)
    prefix = f"foodbot-lean-{uuid.uuid4().hex[:8]}"
    processes: list[asyncio.subprocess.Process] = []
    figures: dict[str, Any] = {}
    try:
        async with FakeTelegram() as tg:
            queue = {"QUEUE_URL": args.redis, "QUEUE_PREFIX": prefix}
            fresh = work / "fresh-data"
            fresh.mkdir()
            replica_env = foodbot_env(
                fresh,
                TELEGRAM_BOT_TOKEN=tg.token,
                TELEGRAM_API_BASE_URL=tg.base_url,
                DATABASE_URL=f"sqlite+aiosqlite:///{work / 'replica.db'}",
                **queue,
            )
            figures["replica"] = import_time(replica_env, args.imports, work)
            ann = tg.user(1001, "Ann")
            log = work / "replica.log"
            replica, startup_s = await start_and_help(tg, ann, replica_env, work, log)
            processes.append(replica)
            figures["replica"] |= {"startup_s": startup_s, **memory(replica.pid)}
            figures["replica"]["bundle_built"] = (fresh / "models").exists()

            worker_env = foodbot_env(data_dir, **queue)
            worker_log = work / "worker.log"
            worker = await spawn(["worker", "--name", "lean"], worker_env, work, worker_log)
            processes.append(worker)
            figures["worker"] = {"ready_s": await wait_ready(worker, worker_log)}
            figures["replica"]["photos_s"] = await send_photos(tg, ann, photos, replica, log)
            figures["worker"] |= memory(worker.pid)
            figures["replica"]["after_photos"] = memory(replica.pid)
            for process in (worker, replica):
                await stop(process)

            inprocess_env = foodbot_env(
                data_dir,
                TELEGRAM_BOT_TOKEN=tg.token,
                TELEGRAM_API_BASE_URL=tg.base_url,
                DATABASE_URL=f"sqlite+aiosqlite:///{work / 'inprocess.db'}",
                QUEUE_URL="",
            )
            bob = tg.user(1002, "Bob")
            log = work / "inprocess.log"
            inprocess, startup_s = await start_and_help(tg, bob, inprocess_env, work, log)
            processes.append(inprocess)
            figures["inprocess"] = {"startup_s": startup_s}
            figures["inprocess"]["photos_s"] = await send_photos(tg, bob, photos, inprocess, log)
            figures["inprocess"] |= memory(inprocess.pid)
            await stop(inprocess)
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await drop_keys(args.redis, prefix)
    return figures


def ensure_default_bundle(data_dir: Path) -> None:
    """Build the default bundle once, in a child (so this process stays free of PyTorch)."""
    if (data_dir / "models" / "default" / "bundle.json").is_file():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([FOODBOT, "model", "build-default"], env=foodbot_env(data_dir.resolve()), check=True)


def main() -> None:
    args = _arguments()
    ensure_default_bundle(args.data_dir)
    with tempfile.TemporaryDirectory(prefix="foodbot-lean-") as work:
        figures = asyncio.run(measure(args, Path(work)))
    print(json.dumps({"photos": args.photos, **figures}))


if __name__ == "__main__":
    main()
