"""Benchmark: food search over all of USDA FoodData Central, per query, on this machine.

    .venv/bin/python bench/food_search.py [--index PATH] [--rounds 20]

Queries: the 28 foods the everyday-logging walkthrough could not find, common words ("chicken",
"cheese": many matches), typos and half-typed words. Figures in milliseconds, median and p99 over
`--rounds` rounds of every query:

* `search_ms`: `NutritionTable.search` as the bot calls it, the curated table first, then the FTS5
  index with its candidates re-ranked;
* `baseline_fuzzy_ms`: what the index avoids, rapidfuzz over the names of all the index's foods (the
  curated table's method), measured on a few of the same queries in the same run.

The index is the one at `--index` (default `FOODS_INDEX`/`DATA_DIR`), built first if missing. Prints
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.settings import Settings
from meallog.food_index import FoodIndex, ensure_food_index
from meallog.nutrition import NutritionTable

MISSING = [
    *("shawarma", "kimchi", "chapati", "dosa", "idli", "paratha", "pierogi", "borscht", "goulash"),
    *("schnitzel", "bratwurst", "skyr", "big mac", "tzatziki", "plantain", "injera", "arepa", "empanada"),
    *("onigiri", "udon", "roast chicken", "butter chicken", "dal", "jollof rice", "cheddar", "avocado toast"),
    *("chocolate croissant", "doner kebab"),
]
COMMON = ["chicken", "cheese", "rice", "bread", "milk", "apple", "egg", "pizza", "coffee", "chocolate"]
TYPOS = ["capucino", "spagetti bolognese", "avacado", "chiken breast", "brocoli", "chick", "bro", "yog"]


def _figures(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "median": round(statistics.median(times), 3),
        "p99": round(times[max(0, int(len(times) * 0.99) - 1)], 3),
        "max": round(times[-1], 3),
    }


def measure(index_path: Path, rounds: int) -> dict[str, Any]:
    ensure_food_index(index_path, progress=lambda _line: None)
    index = FoodIndex(index_path)
    table = NutritionTable.load()
    table.attach_index(index)
    queries = MISSING + COMMON + TYPOS
    times = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            table.search(query, limit=6)
            times.append((time.perf_counter() - started) * 1000)
    names = [food.name.lower() for food in index]
    baseline = []
    for query in ("kimchi", "chicken", "capucino", "butter chicken", "skyr"):
        started = time.perf_counter()
        process.extract(query, names, scorer=fuzz.WRatio, limit=6)
        baseline.append((time.perf_counter() - started) * 1000)
    search = _figures(times)
    return {
        "foods": index.foods,
        "queries": len(queries) * rounds,
        "search_ms": search,
        "baseline_fuzzy_ms": _figures(baseline),
        "speedup_median": round(statistics.median(baseline) / search["median"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="the index file (default: FOODS_INDEX or DATA_DIR's)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    path = args.index or Settings().foods_index_path
    print(json.dumps(measure(path, args.rounds), indent=2))


if __name__ == "__main__":
    main()
