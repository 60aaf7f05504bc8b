"""Benchmark: the head-only retrain's time on the CPU, and what it adds to memory on real photos.

    .venv/bin/python bench/retrain.py [--examples 10000] [--foods 100] [--repeat 3]

Figures, from the served bundle (`MODEL_DIR`, else the default one) and `bench/data/food_photos`:

* `retrain_s`: `training.head_retrain.retrain_head` on `--examples` examples of `--foods` foods, made
  from the real photos' embeddings: the 48 foods of the set, each photo of a food a prototype, and for
  the other foods the normalised sum of two photos of different foods; every example is a prototype
  with Gaussian noise (cosine to it about 0.9), normalised. The first 48 keep
  their keys, so the 14 the model knows train as known foods and the rest become classes. Median and
  best of `--repeat` runs, with torch's CPU threads as set (`threads`). The goal: at most 60 s on 2 cores.
* `baseline_recognize_ms`: recognizing one photo of the set with the same model in the same run
  (decode, preprocess, forward), so `retrain_s` reads as a number of photos' worth of work.
* `one_shot`: `foodbot evaluate-memory`'s one-shot figures (`training.gate.one_shot_figures`): the
  first photo of each food taught, the others recognized by the serving model alone, with memory alone
  (the baseline), and by a head retrained from the taught photos, alone and with memory.
* `cross_validation`: the gate's cross-validation with every food photo as a taught example (5 folds):
  held-out photos named first and in the top 3, memory alone against the retrained head with memory.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bot.model_setup import configured_bundle
from bot.settings import Settings
from meallog.memory.evaluation import NO_FOOD
from model.recognizer import Recognizer
from training.gate import cross_validate, one_shot_figures, recognize_files, regression_files
from training.head_retrain import new_foods, retrain_head

PHOTOS = Path(__file__).parent / "data" / "food_photos"
#: The noise per feature that puts an example at cosine ~0.9 from its prototype (1280 features).
NOISE = 0.0135


def synthetic_examples(
    foods: list[str], units: np.ndarray, examples: int, count: int, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """`examples` unit vectors over `count` foods from the photos' embeddings (module docstring)."""
    rng = np.random.default_rng(seed)
    by_food: dict[str, list[int]] = {}
    for i, food in enumerate(foods):
        by_food.setdefault(food, []).append(i)
    names = sorted(by_food)
    pools: list[tuple[str, np.ndarray]] = [(name, units[by_food[name]]) for name in names]
    for k in range(len(names), count):
        a, b = by_food[names[k % len(names)]], by_food[names[(k * 7 + 3) % len(names)]]
        mixed = units[a][:, None, :] + units[b][None, :, :]
        pools.append((f"bench_food_{k:03d}", mixed.reshape(-1, units.shape[1])))
    out: list[tuple[str, np.ndarray]] = []
    for n in range(examples):
        key, pool = pools[n % count]
        vector = pool[rng.integers(len(pool))]
        vector = vector / np.linalg.norm(vector) + rng.normal(0.0, NOISE, vector.shape)
        out.append((key, (vector / np.linalg.norm(vector)).astype(np.float32)))
    return out


def measure(examples: int, count: int, repeat: int) -> dict[str, Any]:
    serving = configured_bundle(Settings(), progress=lambda _line: None)
    files = regression_files(PHOTOS)
    recognizer = Recognizer(serving, device="cpu")
    recognizer.warm_up()
    started = time.perf_counter()
    answers, features = recognize_files(recognizer, files)
    recognize_ms = (time.perf_counter() - started) * 1000 / len(files)
    raw = [(folder, f) for (folder, _), f in zip(files, features, strict=True) if f is not None]
    scale = float(np.median([np.linalg.norm(f) for _, f in raw]))
    food = [(folder, f / np.linalg.norm(f)) for folder, f in raw if folder != NO_FOOD]
    units = np.stack([u for _, u in food])
    data = synthetic_examples([k for k, _ in food], units, examples, count)
    new = new_foods(serving.meta, data)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        candidate = retrain_head(serving, data, new, scale)
        times.append(time.perf_counter() - started)
    one_shot = one_shot_figures(serving, files, answers, features, scale)
    cv = cross_validate(serving, food, scale)
    return {
        "bundle": serving.id,
        "threads": torch.get_num_threads(),
        "feature_scale": round(scale, 3),
        "examples": len(data),
        "foods": count,
        "new_classes": len(new),
        "retrain_s": {"median": round(statistics.median(times), 2), "best": round(min(times), 2)},
        "retrain_fit": candidate.stats["new_foods_right_on_training"],
        "goal_s": 60,
        "baseline_recognize_ms": round(recognize_ms, 1),
        "retrain_in_photos": round(statistics.median(times) * 1000 / recognize_ms),
        "one_shot": asdict(one_shot),
        "cross_validation": {
            "held_out": cv.held_out,
            "top1": {"memory": asdict(cv.top1.serving), "retrained_with_memory": asdict(cv.top1.candidate)},
            "top3": {"memory": asdict(cv.top3.serving), "retrained_with_memory": asdict(cv.top3.candidate)},
            "top1_plain": {
                "serving": asdict(cv.top1_plain.serving),
                "retrained": asdict(cv.top1_plain.candidate),
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--foods", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.examples, args.foods, args.repeat), indent=2))


if __name__ == "__main__":
    main()
