"""Benchmark: what ranking with the memory of corrections adds to each photo, on the CPU.

    .venv/bin/python bench/memory_ranking.py [--examples 5000] [--foods 100] [--repeat 2000]

The memory is built from the real photos of `bench/data/food_photos` (their embeddings under the default
bundle, each repeated with noise until `--examples` rows over `--foods` foods), in a real SQLite
database. Figures, per photo, median and p99 in milliseconds:

* `interpret_ms`: the baseline, turning the model's probabilities into ranked foods
  (`Recognizer.interpret_rows` for one photo), what every photo pays already;
* `rank_ms`: `rank_with_memory` against the person's index (the arithmetic alone);
* `recall_ms`: `Recall.rank` as the bot calls it: the stamp query that checks the cached memory is
  current (one indexed SQLite query), then ranking;
* `stamp_ms`: that stamp query alone (a database round trip, mostly waiting, not computing);
* `first_load_ms`: the first photo of a person, which loads and builds their index.

Prints one JSON object; `added_ms` is `recall_ms`'s median, the figure the goal (≤ 2 ms) is about.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bot.model_setup import make_recognizer
from bot.settings import Settings
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.memory.ranking import rank_with_memory
from meallog.memory.recall import Recall
from meallog.migrate import upgrade_database
from meallog.nutrition import default_table
from meallog.store.memory import MemoryStore
from meallog.store.people import PeopleStore
from model.recognition import encode_embedding

PHOTOS = Path(__file__).parent / "data" / "food_photos"
PERSON = 42


def _timed(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median": round(statistics.median(times), 3), "p99": round(times[int(len(times) * 0.99) - 1], 3)}


async def _timed_async(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median": round(statistics.median(times), 3), "p99": round(times[int(len(times) * 0.99) - 1], 3)}


async def measure(examples: int, foods: int, repeat: int) -> dict[str, Any]:
    table = default_table()
    recognizer = make_recognizer(Settings(), table, progress=lambda _line: None)
    files = sorted(p for p in PHOTOS.glob("*/*") if p.parent.name != "no_food")
    answers = recognizer.predict([p.read_bytes() for p in files])
    vectors = np.stack([np.frombuffer(a.embedding, dtype="<f2").astype(np.float32) for a in answers])
    rng = np.random.default_rng(0)
    keys = [food.key for food in table][:foods]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade_database, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        await PeopleStore(sessions).ensure_user(PERSON, chat_id=PERSON)
        store = MemoryStore(sessions)
        bundle = answers[0].bundle_id
        for n in range(examples):
            noisy = vectors[n % len(vectors)] + rng.normal(scale=0.02, size=vectors.shape[1])
            await store.teach(PERSON, keys[n % len(keys)], encode_embedding(noisy), bundle)
        recall = Recall(store, table.name_of)
        query = answers[3]
        started = time.perf_counter()
        index = await recall.index(PERSON, bundle)
        first_load = (time.perf_counter() - started) * 1000
        probs = recognizer.probabilities(np.stack([recognizer.preprocess(files[3].read_bytes())]))
        recall_ms = await _timed_async(lambda: recall.rank(PERSON, query), repeat)
        figures: dict[str, Any] = {
            "examples": len(index),
            "foods": len(set(index.own.keys)),
            "interpret_ms": _timed(lambda: recognizer.interpret_rows(probs), repeat),
            "rank_ms": _timed(lambda: rank_with_memory(query, index, table.name_of), repeat),
            "recall_ms": recall_ms,
            "stamp_ms": await _timed_async(lambda: store.stamp(bundle, PERSON), repeat),
            "first_load_ms": round(first_load, 1),
        }
        await engine.dispose()
    figures["added_ms"] = recall_ms["median"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--foods", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.examples, args.foods, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
