"""The gate for a full retrain: taught photos it never trained on, and the regression photos.

A head-only candidate is cross-validated from stored embeddings in seconds (`training.gate`). A full
retrain changes the backbone, so every fold would be a fine-tune of its own; instead the retrain holds
out a share of the taught photos (`training.full_retrain.split_held_out`) and the gate measures on them
what a person would see. Each model ranks with a memory of the photos trained on, embedded by itself
(the serving model's memory, and the candidate's as `foodbot retrain` stores it before promoting): held-
out photos named first and in the top 3, the serving model with memory against the candidate with
memory. Part 2 (known foods and no-food photos of the regression set) and the decision are
`training.gate`'s; the one-shot figure is not measured (it would be one more fine-tune).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from meallog.memory.ranking import rank_with_memory
from model.bundle import ModelBundle
from model.recognition import Recognition
from training.full_retrain import is_full
from training.gate import (
    CrossValidation,
    GateError,
    GateReport,
    compare_on_photos,
    first_food,
    memory_of,
    recognize_files,
    recognize_photos,
    regression_files,
    score_pair,
    top3_foods,
    verdict,
)
from training.head_retrain import known_foods


def _units(features: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    return [None if f is None or not np.linalg.norm(f) else f / np.linalg.norm(f) for f in features]


def _known(unit: np.ndarray | None) -> np.ndarray:
    assert unit is not None  # only readable photos are asked for
    return unit


def held_out_figures(
    serving: tuple[list[Recognition], list[np.ndarray | None]],
    candidate: tuple[list[Recognition], list[np.ndarray | None]],
    foods: Sequence[str],
    held: Sequence[bool],
) -> CrossValidation:
    """Part 1 from both models' recognitions and raw features of the same taught photos, in order.

    `held[i]` says whether photo i was held out of the candidate's training. Photos either model could
    not read count nowhere; foods with one example are counted as not held out.
    """
    report = CrossValidation(folds=1, examples=len(foods))
    counts: dict[str, int] = {}
    for food in foods:
        counts[food] = counts.get(food, 0) + 1
    report.not_held_out = sum(1 for food in foods if counts[food] < 2)
    (s_answers, s_features), (c_answers, c_features) = serving, candidate
    s_units, c_units = _units(s_features), _units(c_features)
    readable = [s_units[i] is not None and c_units[i] is not None for i in range(len(foods))]
    train = [i for i in range(len(foods)) if readable[i] and not held[i]]
    if not train:
        raise GateError("no readable training photo to build the models' memories from")
    trained_foods = [foods[i] for i in train]
    s_memory = memory_of(np.stack([_known(s_units[i]) for i in train]), trained_foods)
    c_memory = memory_of(np.stack([_known(c_units[i]) for i in train]), trained_foods)
    for i, truth in enumerate(foods):
        if not held[i] or not readable[i]:
            continue
        before = rank_with_memory(s_answers[i], s_memory, str)
        after = rank_with_memory(c_answers[i], c_memory, str)
        score_pair(report.top1, first_food(before) == truth, first_food(after) == truth)
        score_pair(report.top3, truth in top3_foods(before), truth in top3_foods(after))
        score_pair(report.top1_plain, first_food(s_answers[i]) == truth, first_food(c_answers[i]) == truth)
        report.held_out += 1
    return report


def gate_held_out(
    serving: ModelBundle,
    candidate: ModelBundle,
    photos: Sequence[bytes | Path],
    foods: Sequence[str],
    held: Sequence[bool],
    photos_dir: Path,
) -> GateReport:
    """Measure a full `candidate` of `serving` and decide whether to promote it (module docstring).

    `photos` and `foods` are every taught photo of the retrain with its food, `held[i]` whether the
    candidate's training left photo i out (`split_held_out`). Raises GateError when it cannot measure.
    """
    from model.recognizer import Recognizer

    started = time.perf_counter()
    if not is_full(candidate):
        raise GateError(
            f"{candidate.id or candidate.path} is not a full retrain: `training.gate` measures it"
        )
    if not len(photos) == len(foods) == len(held):
        raise GateError("photos, foods and held-out flags must be as many")
    if not any(held):
        raise GateError("no taught photo was held out, so the candidate cannot be measured on unseen ones")
    files = regression_files(photos_dir)
    serving_recognizer = Recognizer(serving, device="cpu")
    candidate_recognizer = Recognizer(candidate, device="cpu")
    cv = held_out_figures(
        recognize_photos(serving_recognizer, photos),
        recognize_photos(candidate_recognizer, photos),
        foods,
        held,
    )
    serving_answers, _ = recognize_files(serving_recognizer, files)
    candidate_answers, _ = recognize_files(candidate_recognizer, files)
    known = known_foods(serving.meta)
    regression = compare_on_photos(
        files, serving_answers, candidate_answers, known, known_foods(candidate.meta) - known
    )
    return verdict(serving, candidate, cv, regression, started, method="held out")
