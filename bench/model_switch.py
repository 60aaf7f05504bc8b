"""How long switching the served model pauses serving: the in-process queue under a steady stream of
photos, while a promoted bundle is loaded aside and taken between two batches (`model.serving_watch`).

Prints JSON: the longest gap between two answers in the seconds before the switch (the baseline, same
run) and around it, their ratio, and how many photos were lost. Goal: the switch pauses serving ≤ 1 s.

    .venv/bin/python bench/model_switch.py [--seconds 10] [--senders 4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.bundle import ModelBundle
from model.default_bundle import ensure_default_bundle
from model.queue import InProcessQueue
from model.recognizer import Recognizer
from model.serving_watch import BundleWatch
from tests.conftest import photo
from tests.model.variants import variant_bundle


def _build(bundle: ModelBundle) -> Recognizer:
    recognizer = Recognizer(bundle, device="cpu")
    recognizer.warm_up()
    return recognizer


async def measure(base: ModelBundle, other: ModelBundle, seconds: float, senders: int) -> dict[str, object]:
    wanted: list[Path | None] = [None]

    async def where() -> Path | None:
        return wanted[0]

    watch = BundleWatch(where, _build, every_s=0.05)
    queue = InProcessQueue(lambda: _build(base), max_batch=8)
    queue.follow(watch)
    await queue.start()
    image = photo("coffee.png")
    answered: list[tuple[float, str]] = []
    lost = 0
    stop = time.perf_counter() + seconds

    async def send() -> None:
        nonlocal lost
        while time.perf_counter() < stop:
            answer = await queue.recognize(image)
            if answer.error:
                lost += 1
            answered.append((time.perf_counter(), answer.bundle_id))

    tasks = [asyncio.create_task(send()) for _ in range(senders)]
    await asyncio.sleep(seconds / 2)
    promoted_at = time.perf_counter()
    wanted[0] = other.path
    await asyncio.gather(*tasks)
    await queue.close()

    times = sorted(t for t, _ in answered)
    gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
    before = [gap for gap, at in gaps if at < promoted_at]
    after_switch = [gap for gap, at in gaps if at >= promoted_at]
    first_new = min((t for t, bundle_id in answered if bundle_id == other.id), default=None)
    worst_before = max(before, default=0.0)
    worst_during = max(after_switch, default=0.0)
    return {
        "photos": len(answered),
        "lost": lost,
        "switched_after_s": round(first_new - promoted_at, 2) if first_new else None,
        "longest_gap_before_ms": round(worst_before * 1000, 1),
        "longest_gap_during_switch_ms": round(worst_during * 1000, 1),
        "ratio": round(worst_during / worst_before, 2) if worst_before else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = ensure_default_bundle(Path(tmp) / "default", progress=lambda _line: None)
        other = variant_bundle(base, Path(tmp) / "pizza", "pizza")
        print(json.dumps(asyncio.run(measure(base, other, args.seconds, args.senders)), indent=2))


if __name__ == "__main__":
    main()
