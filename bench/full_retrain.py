"""Benchmark: what a full retrain adds on real photos, against memory alone and the head-only retrain.

    .venv/bin/python bench/full_retrain.py [--gate] [--epochs 10] [--lr 3e-5] [--distill 3] [--device auto]

The evaluation of the learning-from-corrections issue (`foodbot evaluate-memory`, one shot) on
`bench/data/food_photos` with the served bundle (`MODEL_DIR`, else the default one): the first photo of
each food is taught, every other photo is recognized, and the no-food photos must stay no food. Three
rows, measured in the same run:

* `memory`: the serving model ranked with the memory of the taught photos (the baseline);
* `head_only`: a head-only retrain on the taught photos' embeddings, with memory
  (`training.gate.one_shot_figures`);
* `full`: `training.full_retrain.retrain_full` on the taught photos, its own embeddings of them as the
  memory, recognizing the other photos with the candidate itself.

Each row gives the photos named first and in the top 3, known-food photos kept first, and no-food photos
kept; `full_ratio_top3` is full against memory alone. `regression_vs_serving` is what the gate's second
part counts on every photo of the set: the candidate alone against the serving model alone, with `lost`
the photos the serving model got right and the candidate does not (the gate allows none here).
`--gate` adds what the command's held-out gate decides with every food photo taught (a fifth held
out). `train_images_per_s` is the full retrain's speed on this device (teacher and student forward, student
backward, taught photos and anchors together). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bot.model_setup import configured_bundle
from bot.settings import Settings
from meallog.memory.evaluation import Photo, ShotReport, evaluate, split
from model.recognizer import Recognizer
from training.full_retrain import DEFAULT_FULL_PARAMS, FullParams, TaughtPhoto, retrain_full
from training.gate import compare_on_photos, one_shot_figures, recognize_files, regression_files
from training.head_retrain import known_foods, new_foods

PHOTOS = Path(__file__).parent / "data" / "food_photos"


def _row(report: ShotReport) -> dict[str, Any]:
    return {
        "top1": report.top1_memory.json(),
        "top3": report.top3_memory.json(),
        "known_foods_top1": report.known_memory.json(),
        "no_food_kept": report.no_food_memory.json(),
    }


def measure(params: FullParams, device: str) -> dict[str, Any]:
    serving = configured_bundle(Settings(), progress=lambda _line: None)
    files = regression_files(PHOTOS)
    datas = {(folder, path.name): path.read_bytes() for folder, path in files}
    recognizer = Recognizer(serving, device="cpu")
    answers, features = recognize_files(recognizer, files)
    photos = [
        Photo(folder, path.name, answer)
        for (folder, path), answer in zip(files, answers, strict=True)
        if answer.error is None
    ]
    raw = [f for f in features if f is not None]
    scale = float(np.median([np.linalg.norm(f) for f in raw]))
    taught, queries, _ = split(photos, 1)
    from model.recognition import decode_embedding

    examples = [
        TaughtPhoto(p.food, datas[(p.food, p.name)], decode_embedding(p.recognition.embedding))
        for p in taught
    ]
    new = new_foods(serving.meta, [(e.food_key, e.embedding) for e in examples])
    known = known_foods(serving.meta)
    baseline = evaluate(photos, 1, known, str)
    head = one_shot_figures(serving, files, answers, features, scale)
    with tempfile.TemporaryDirectory(prefix="foodbot-bench-") as tmp:
        started = time.perf_counter()
        candidate = retrain_full(
            serving,
            examples,
            new,
            scale,
            Path(tmp) / "full",
            params=params,
            device=device,
            onnx=False,
            progress=lambda line: print(line, flush=True, file=sys.stderr),
        )
        train_s = time.perf_counter() - started
        again, _ = recognize_files(Recognizer(candidate.bundle, device="cpu"), files)
    full_photos = [
        Photo(folder, path.name, answer)
        for (folder, path), answer in zip(files, again, strict=True)
        if answer.error is None
    ]
    full = evaluate(full_photos, 1, known, str)
    # What the gate's regression part would say: the candidate alone against the serving model alone.
    regression = compare_on_photos(files, answers, again, known, set(new))
    return {
        "bundle": serving.id,
        "threads": torch.get_num_threads(),
        "taught": len(examples),
        "queries": len(queries),
        "new_classes": len(new),
        "params": asdict(params),
        "memory": _row(baseline),
        "head_only": {
            "top1": asdict(head.top1_candidate_memory),
            "top3": asdict(head.top3_candidate_memory),
            "known_foods_top1": asdict(head.known_foods_top1_candidate_memory),
            "no_food_kept": asdict(head.no_food_kept_candidate_memory),
        },
        "full": _row(full),
        "full_ratio_top3": round(full.top3_memory.right / max(1, baseline.top3_memory.right), 3),
        "regression_vs_serving": {
            "known_foods_top1": asdict(regression.known_foods_top1),
            "no_food_kept": asdict(regression.no_food_kept),
        },
        "train_s": round(train_s, 1),
        "train_images_per_s": candidate.stats["images_per_s"],
        "device": candidate.stats["device"],
    }


def gate_figure(params: FullParams, device: str) -> dict[str, Any]:
    """`--gate`: what `foodbot retrain --strength full` would decide if people had taught every food photo
    of the set: a fifth of each food's photos held out (`split_held_out`), the rest trained on, and the
    held-out gate run as the command runs it (held-out photos with memory, the regression photos)."""
    from model.recognition import decode_embedding
    from training.full_retrain import split_held_out
    from training.held_out_gate import gate_held_out

    serving = configured_bundle(Settings(), progress=lambda _line: None)
    files = [(food, path) for food, path in regression_files(PHOTOS) if food != "no_food"]
    answers, features = recognize_files(Recognizer(serving, device="cpu"), files)
    scale = float(np.median([np.linalg.norm(f) for f in features if f is not None]))
    foods = [food for food, _ in files]
    held = split_held_out(foods, 0.2, seed=0)
    train = [
        TaughtPhoto(food, path, decode_embedding(answer.embedding))
        for (food, path), answer, out in zip(files, answers, held, strict=True)
        if not out
    ]
    new = new_foods(serving.meta, [(e.food_key, e.embedding) for e in train])
    with tempfile.TemporaryDirectory(prefix="foodbot-bench-") as tmp:
        started = time.perf_counter()
        candidate = retrain_full(
            serving,
            train,
            new,
            scale,
            Path(tmp) / "gate",
            params=params,
            device=device,
            onnx=False,
            progress=lambda line: print(line, flush=True, file=sys.stderr),
        )
        train_s = time.perf_counter() - started
        report = gate_held_out(serving, candidate.bundle, [p for _, p in files], foods, held, PHOTOS)
    return {
        "trained_photos": len(train),
        "held_out": sum(held),
        "train_s": round(train_s, 1),
        "promote": report.promote,
        "reasons": report.reasons,
        "top1_with_memory": asdict(report.cross_validation.top1),
        "top3_with_memory": asdict(report.cross_validation.top3),
        "note": "the regression photos include the trained ones here, so its known-food part is lenient",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = DEFAULT_FULL_PARAMS
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--head-lr", type=float, default=defaults.head_lr)
    parser.add_argument("--distill", type=float, default=defaults.distill)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--gate", action="store_true", help="also the held-out gate on every food photo")
    args = parser.parse_args()
    params = replace(
        defaults,
        epochs=args.epochs,
        lr=args.lr,
        head_lr=args.head_lr,
        distill=args.distill,
        batch_size=args.batch_size,
    )
    figures = measure(params, args.device)
    if args.gate:
        figures["gate"] = gate_figure(params, args.device)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
