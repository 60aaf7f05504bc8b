"""The gate: a head-only candidate is promoted only when it is measurably better and worse nowhere that
matters.

`gate(serving, candidate, examples, photos_dir)` measures three things and decides (`GateReport`):

1. **Cross-validation over the taught examples** (the examples the candidate was trained on). The examples
   are split into `folds` folds, food by food in turn, so each food with two or more examples keeps at
   least one in the training part of every fold; a food with a single example cannot be held out (there
   would be nothing left to learn it from), so it is always in the training part and counted as "not held
   out". Each fold retrains the head on its training part exactly as the candidate was made (the scale and
   `HeadParams` recorded in its provenance) and scores the held-out examples: the first food and the top 3,
   for the serving model with memory and for the fold's model with memory, where memory is a
   `MemoryIndex` of the training part ranked by `rank_with_memory`, as the bot ranks. It is computed from
   the stored embeddings alone: logits `c·W·e + b` (`training.head_retrain` on the scale `c`), no photos.
   Cross-validation measures the retrain, not the given weights, so the candidate's own fit is checked
   too: it must name its taught examples first about as often as a fresh retrain of the same examples
   (`fit`); a candidate whose rows were trained on something else fails there.
2. **The regression set** (`bench/data/food_photos`: `<food>/` folders and `no_food/`), recognized by both
   real bundles on the CPU (ONNX Runtime where the bundle has an export): photos of foods the serving model
   knows, named first; no-food photos kept "no food"; and, for information, photos of the foods the
   candidate added.
3. **The one-shot figure** of `foodbot evaluate-memory` on the same photos (`meallog.memory.evaluation`):
   the first photo of each food taught, the others recognized, by the serving model with memory and by a
   candidate retrained from those taught photos with memory. It describes the method on real photos and
   is reported, not decided on (the taught photos are the regression set's).

**The decision.** Promote only when, in cross-validation, the candidate with memory names first at least
`margin` more held-out examples than the serving model with memory, or names `margin` more in the top 3
and no fewer first; where `margin` is the larger of 2 examples and 2 % of the held-out examples; AND on
the regression set it loses at most one photo in `LOSS_TOLERANCE` (50) of the photos of known foods
(one the serving model named first and the candidate does not) and of the no-food photos (one the serving
model kept "no food" and the candidate does not), the tolerance of `foodbot evaluate-memory`: with 42 and
29 such photos, none; AND its fit is not more than the margin below a fresh retrain's.
Every count in the report comes with its total.

A full retrain's candidate (`training.full_retrain`) is measured by `training.held_out_gate` under the
same decision: its part 1 is one split of the taught photos held out from its training (its `folds` is 1),
the fit check does not apply (there is no cheap fresh retrain to compare with), and part 3 is left out.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meallog.memory.evaluation import LOSS_TOLERANCE, NO_FOOD, Photo, evaluate, split
from meallog.memory.ranking import MemoryIndex, rank_with_memory
from model.bundle import ModelBundle
from model.recognition import Recognition
from training.head_retrain import (
    DEFAULT_HEAD_PARAMS,
    HeadCandidate,
    HeadParams,
    classifier_keys,
    embeddings_of,
    is_head_only,
    known_foods,
    new_foods,
    params_of,
    retrain_head,
    scale_of,
)

if TYPE_CHECKING:
    import torch

    from model.recognizer import Recognizer

_LOGGER = logging.getLogger(__name__)

#: The margin of the decision: at least this many held-out examples …
MARGIN_EXAMPLES = 2
#: … and at least this share of them.
MARGIN_SHARE = 0.02
DEFAULT_FOLDS = 5
#: Photo files the regression set reads.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


class GateError(ValueError):
    """The gate cannot measure as asked (the message says why); nothing is promoted."""


@dataclass(slots=True)
class Tally:
    """Right answers out of how many."""

    right: int = 0
    of: int = 0

    def add(self, ok: bool) -> None:
        self.right += int(ok)
        self.of += 1

    def __str__(self) -> str:
        return f"{self.right} of {self.of}"


@dataclass(slots=True)
class Versus:
    """One figure for the serving model and for the candidate (both with memory where memory applies)."""

    serving: Tally = field(default_factory=Tally)
    candidate: Tally = field(default_factory=Tally)
    #: Cases the serving model got right and the candidate did not.
    lost: int = 0


@dataclass(slots=True)
class Fit:
    """The candidate's own weights on its taught examples, against a fresh retrain of the same ones."""

    reference: Tally = field(default_factory=Tally)
    candidate: Tally = field(default_factory=Tally)


@dataclass(slots=True)
class CrossValidation:
    """Part 1 of the gate (module docstring)."""

    folds: int = 0
    examples: int = 0
    held_out: int = 0
    #: Examples of foods taught once, always in the training part.
    not_held_out: int = 0
    top1: Versus = field(default_factory=Versus)
    top3: Versus = field(default_factory=Versus)
    #: The same without memory (for information).
    top1_plain: Versus = field(default_factory=Versus)
    #: The taught examples named first by the candidate alone and by a fresh retrain of them.
    fit: Fit = field(default_factory=Fit)


@dataclass(slots=True)
class Regression:
    """Part 2 of the gate (module docstring)."""

    photos: int = 0
    unreadable: int = 0
    known_foods_top1: Versus = field(default_factory=Versus)
    no_food_kept: Versus = field(default_factory=Versus)
    #: Photos of foods the candidate added, named first (the serving model cannot).
    new_foods_top1: Versus = field(default_factory=Versus)
    allowed_known_lost: int = 0
    allowed_no_food_lost: int = 0


@dataclass(slots=True)
class OneShot:
    """Part 3 of the gate: `foodbot evaluate-memory`'s one-shot figures (module docstring)."""

    taught: int = 0
    queries: int = 0
    #: Serving model alone, serving with memory (memory alone), retrained with memory, retrained alone.
    top1_serving: Tally = field(default_factory=Tally)
    top1_memory: Tally = field(default_factory=Tally)
    top1_candidate_memory: Tally = field(default_factory=Tally)
    top1_candidate: Tally = field(default_factory=Tally)
    top3_serving: Tally = field(default_factory=Tally)
    top3_memory: Tally = field(default_factory=Tally)
    top3_candidate_memory: Tally = field(default_factory=Tally)
    top3_candidate: Tally = field(default_factory=Tally)
    known_foods_top1_memory: Tally = field(default_factory=Tally)
    known_foods_top1_candidate_memory: Tally = field(default_factory=Tally)
    no_food_kept_memory: Tally = field(default_factory=Tally)
    no_food_kept_candidate_memory: Tally = field(default_factory=Tally)


@dataclass(slots=True)
class GateReport:
    """What the gate measured and decided; `to_json` is what `foodbot retrain` prints and stores."""

    serving: str
    candidate: str
    promote: bool
    #: One sentence per rule, each saying whether it held and by which counts.
    reasons: list[str]
    margin: int
    cross_validation: CrossValidation
    regression: Regression
    one_shot: OneShot | None = None
    seconds: float = 0.0
    #: How the candidate was measured on taught examples: "cross-validation" (a head-only retrain,
    #: from stored embeddings) or "held out" (a full retrain, on photos it never trained on).
    method: str = "cross-validation"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> GateReport:
        data: dict[str, Any] = json.loads(text)
        return cls(
            serving=data["serving"],
            candidate=data["candidate"],
            promote=bool(data["promote"]),
            reasons=list(data["reasons"]),
            margin=int(data["margin"]),
            cross_validation=_load(CrossValidation, data["cross_validation"]),
            regression=_load(Regression, data["regression"]),
            one_shot=_load(OneShot, data["one_shot"]) if data.get("one_shot") else None,
            seconds=float(data.get("seconds", 0.0)),
            method=str(data.get("method", "cross-validation")),
        )


def _load(kind: Any, data: dict[str, Any]) -> Any:
    """A report part from its JSON: nested tallies are dicts with `right`/`of`, pairs have `serving`."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and "reference" in value:
            values[key] = Fit(Tally(**value["reference"]), Tally(**value["candidate"]))
        elif isinstance(value, dict) and "serving" in value:
            values[key] = Versus(Tally(**value["serving"]), Tally(**value["candidate"]), value["lost"])
        elif isinstance(value, dict) and "right" in value:
            values[key] = Tally(**value)
        else:
            values[key] = value
    return kind(**values)


# -- recognizing embeddings as the bot does -------------------------------------------------------------


def first_food(rec: Recognition) -> str | None:
    """The food a person is shown first, or None for "no food"."""
    return None if rec.no_food or not rec.foods else rec.foods[0].key


def top3_foods(rec: Recognition) -> list[str]:
    """The first three foods of the list a person can pick from."""
    return [food.key for food in rec.foods[:3]]


def _name(key: str) -> str:
    return key


class _Reader:
    """A bundle's recognizer and its classifier: recognitions from features, with no photo.

    The recognizer's own `interpret_rows` turns probabilities into ranked foods and the no-food verdict,
    so what the gate counts is what a person would see.
    """

    def __init__(self, recognizer: Recognizer, state: dict[str, torch.Tensor]) -> None:
        weight_key, bias_key = classifier_keys(state, len(recognizer.bundle.meta.labels))
        self.recognizer = recognizer
        self.weight = state[weight_key].float().numpy()
        self.bias = state[bias_key].float().numpy()

    @classmethod
    def of_bundle(cls, bundle: ModelBundle, runtime: str = "auto") -> _Reader:
        from model.recognizer import Recognizer

        return cls(Recognizer(bundle, device="cpu", runtime=runtime), bundle.state_dict())

    @classmethod
    def of_candidate(cls, candidate: HeadCandidate, folder: Path) -> _Reader:
        """A candidate written without ONNX and read by PyTorch: only its interpretation is used."""
        from model.recognizer import Recognizer

        bundle = candidate.save(folder, onnx=False)
        return cls(Recognizer(bundle, device="cpu", runtime="torch"), candidate.state_dict)

    def from_features(self, features: np.ndarray) -> list[Recognition]:
        """Recognitions of raw pooled features (`scale · unit embedding` for stored ones)."""
        if not len(features):
            return []
        logits = features @ self.weight.T + self.bias
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        answers: list[Recognition] = self.recognizer.interpret_rows(
            exp / exp.sum(axis=1, keepdims=True), features
        )
        return answers


def score_pair(pair: Versus, before: bool, after: bool) -> None:
    """Count one case for both models, and as lost when only the serving model had it right."""
    pair.serving.add(before)
    pair.candidate.add(after)
    pair.lost += int(before and not after)


# -- part 1: cross-validation -----------------------------------------------------------------------------


def fold_of(foods: Sequence[str], folds: int, seed: int) -> list[int]:
    """Each example's fold, or -1 for an example of a food taught once (never held out).

    A food's examples, in a seeded random order, go to the folds in turn, continuing where the previous
    food stopped; so a food of m ≥ 2 examples has at most ⌈m / folds⌉ < m examples in any one fold.
    """
    rng = np.random.default_rng(seed)
    by_food: dict[str, list[int]] = {}
    for i, food in enumerate(foods):
        by_food.setdefault(food, []).append(i)
    result = [-1] * len(foods)
    turn = 0
    for food in sorted(by_food):
        members = by_food[food]
        if len(members) < 2:
            continue
        for i in rng.permutation(members).tolist():
            result[int(i)] = turn % folds
            turn += 1
    return result


def memory_of(units: np.ndarray, foods: Sequence[str]) -> MemoryIndex:
    """One person's memory of these examples, one photo each (as `evaluate-memory` teaches)."""
    return MemoryIndex.build(list(units), list(foods), [True] * len(foods), list(range(len(foods))))


def cross_validate(
    serving: ModelBundle,
    examples: Sequence[tuple[str, np.ndarray]],
    scale: float,
    params: HeadParams = DEFAULT_HEAD_PARAMS,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    candidate: ModelBundle | None = None,
) -> CrossValidation:
    """Part 1 of the gate (module docstring); with `candidate`, also its fit against a fresh retrain."""
    if folds < 2:
        raise GateError("cross-validation needs at least 2 folds")
    usable = [(food, np.asarray(v, np.float32).reshape(-1)) for food, v in examples]
    usable = [
        (food, v / np.linalg.norm(v)) for food, v in usable if v.size and np.isfinite(v).all() and v.any()
    ]
    if not usable:
        raise GateError("no taught example with a usable embedding to cross-validate on")
    foods = [food for food, _ in usable]
    units = np.stack([v for _, v in usable])
    assigned = fold_of(foods, folds, seed)
    report = CrossValidation(folds=folds, examples=len(foods), not_held_out=assigned.count(-1))
    serving_answers = _Reader.of_bundle(serving).from_features(scale * units)
    with tempfile.TemporaryDirectory(prefix="foodbot-gate-") as tmp:
        for fold in range(folds):
            held = [i for i, f in enumerate(assigned) if f == fold]
            if not held:
                continue
            train = [i for i, f in enumerate(assigned) if f != fold]
            part = [(foods[i], units[i]) for i in train]
            retrained = retrain_head(serving, part, new_foods(serving.meta, part), scale, seed, params)
            reader = _Reader.of_candidate(retrained, Path(tmp) / f"fold{fold}")
            memory = memory_of(units[train], [foods[i] for i in train])
            for i, answer in zip(held, reader.from_features(scale * units[held]), strict=True):
                truth = foods[i]
                before = rank_with_memory(serving_answers[i], memory, _name)
                after = rank_with_memory(answer, memory, _name)
                score_pair(report.top1, first_food(before) == truth, first_food(after) == truth)
                score_pair(report.top3, truth in top3_foods(before), truth in top3_foods(after))
                score_pair(
                    report.top1_plain, first_food(serving_answers[i]) == truth, first_food(answer) == truth
                )
                report.held_out += 1
        if candidate is not None:
            fresh = retrain_head(serving, usable, new_foods(serving.meta, usable), scale, seed, params)
            reference = _Reader.of_candidate(fresh, Path(tmp) / "reference").from_features(scale * units)
            given = _Reader.of_bundle(candidate).from_features(scale * units)
            for truth, a, b in zip(foods, reference, given, strict=True):
                report.fit.reference.add(first_food(a) == truth)
                report.fit.candidate.add(first_food(b) == truth)
    return report


# -- parts 2 and 3: the regression set -------------------------------------------------------------------


def regression_files(photos_dir: Path) -> list[tuple[str, Path]]:
    """(folder, file) of every photo under `photos_dir/<food or no_food>/`, in name order."""
    if not photos_dir.is_dir():
        raise GateError(f"{photos_dir} is not a folder of food folders")
    files = [
        (folder.name, path)
        for folder in sorted(p for p in photos_dir.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise GateError(f"{photos_dir} has no photos in <food>/ folders")
    return files


def recognize_files(
    recognizer: Recognizer, files: Sequence[tuple[str, Path]]
) -> tuple[list[Recognition], list[np.ndarray | None]]:
    """Each photo's recognition by the real bundle, and its raw pooled features (None for a photo that
    could not be read, or a runtime without embeddings)."""
    return recognize_photos(recognizer, [path for _, path in files])


def recognize_photos(
    recognizer: Recognizer, photos: Sequence[bytes | Path]
) -> tuple[list[Recognition], list[np.ndarray | None]]:
    """`recognize_files` of photos given as bytes or files (read 16 at a time)."""
    from model.images import ImageDecodeError

    answers: list[Recognition] = []
    features: list[np.ndarray | None] = []
    for start in range(0, len(photos), 16):
        prepared: list[np.ndarray | ImageDecodeError] = []
        for photo in photos[start : start + 16]:
            try:
                data = photo.read_bytes() if isinstance(photo, Path) else photo
                prepared.append(recognizer.preprocess(data))
            except ImageDecodeError as exc:
                prepared.append(exc)
        good = [p for p in prepared if not isinstance(p, ImageDecodeError)]
        outputs = recognizer.forward(good) if good else None
        interpreted = recognizer.interpret_rows(outputs.probs, outputs.embeddings) if outputs else []
        row = 0
        for p in prepared:
            if isinstance(p, ImageDecodeError):
                answers.append(Recognition.failed(recognizer.bundle_id, p.friendly))
                features.append(None)
                continue
            answers.append(interpreted[row])
            embeddings = outputs.embeddings if outputs is not None else None
            features.append(embeddings[row] if embeddings is not None else None)
            row += 1
    return answers, features


def compare_on_photos(
    files: Sequence[tuple[str, Path]],
    serving_answers: Sequence[Recognition],
    candidate_answers: Sequence[Recognition],
    known: set[str],
    added: set[str],
) -> Regression:
    """Part 2 of the gate from both bundles' recognitions of the same photos."""
    report = Regression(photos=len(files))
    for (folder, _), before, after in zip(files, serving_answers, candidate_answers, strict=True):
        if before.error or after.error:
            report.unreadable += 1
            continue
        if folder == NO_FOOD:
            score_pair(report.no_food_kept, before.no_food, after.no_food)
        elif folder in known:
            score_pair(report.known_foods_top1, first_food(before) == folder, first_food(after) == folder)
        elif folder in added:
            score_pair(report.new_foods_top1, first_food(before) == folder, first_food(after) == folder)
    # As `foodbot evaluate-memory` allows: one photo in LOSS_TOLERANCE of those measured.
    report.allowed_known_lost = report.known_foods_top1.serving.of // LOSS_TOLERANCE
    report.allowed_no_food_lost = report.no_food_kept.serving.of // LOSS_TOLERANCE
    return report


def one_shot_figures(
    serving: ModelBundle,
    files: Sequence[tuple[str, Path]],
    answers: Sequence[Recognition],
    features: Sequence[np.ndarray | None],
    scale: float,
    params: HeadParams = DEFAULT_HEAD_PARAMS,
    seed: int = 0,
    shots: int = 1,
) -> OneShot:
    """Part 3 of the gate: `evaluate-memory`'s one-shot split, memory alone vs a retrain with memory
    (`shots` photos of each food taught instead of one for `evaluate-memory --shots K`'s figure).

    The retrain learns from the taught photos' embeddings (every taught food the serving model does not
    know becomes a class); its recognitions come from the serving model's raw features of the photos,
    exact for a head-only model, which shares the serving model's backbone.
    """
    photos = [
        Photo(folder, path.name, answer)
        for (folder, path), answer, feature in zip(files, answers, features, strict=True)
        if feature is not None and answer.error is None
    ]
    raw = {
        (folder, path.name): feature
        for (folder, path), feature in zip(files, features, strict=True)
        if feature is not None
    }
    taught, queries, _ = split(photos, shots)
    examples = [(p.food, raw[(p.food, p.name)] / np.linalg.norm(raw[(p.food, p.name)])) for p in taught]
    known = known_foods(serving.meta)
    retrained = retrain_head(serving, examples, new_foods(serving.meta, examples), scale, seed, params)
    with tempfile.TemporaryDirectory(prefix="foodbot-gate-") as tmp:
        reader = _Reader.of_candidate(retrained, Path(tmp) / "one-shot")
        again = reader.from_features(np.stack([raw[(p.food, p.name)] for p in photos]))
    retrained_photos = [Photo(p.food, p.name, answer) for p, answer in zip(photos, again, strict=True)]
    before = evaluate(photos, shots, known, _name)
    after = evaluate(retrained_photos, shots, known, _name)
    return OneShot(
        taught=len(taught),
        queries=len(queries),
        top1_serving=Tally(before.top1_plain.right, before.top1_plain.total),
        top1_memory=Tally(before.top1_memory.right, before.top1_memory.total),
        top1_candidate_memory=Tally(after.top1_memory.right, after.top1_memory.total),
        top1_candidate=Tally(after.top1_plain.right, after.top1_plain.total),
        top3_serving=Tally(before.top3_plain.right, before.top3_plain.total),
        top3_memory=Tally(before.top3_memory.right, before.top3_memory.total),
        top3_candidate_memory=Tally(after.top3_memory.right, after.top3_memory.total),
        top3_candidate=Tally(after.top3_plain.right, after.top3_plain.total),
        known_foods_top1_memory=Tally(before.known_memory.right, before.known_memory.total),
        known_foods_top1_candidate_memory=Tally(after.known_memory.right, after.known_memory.total),
        no_food_kept_memory=Tally(before.no_food_memory.right, before.no_food_memory.total),
        no_food_kept_candidate_memory=Tally(after.no_food_memory.right, after.no_food_memory.total),
    )


# -- the gate ----------------------------------------------------------------------------------------------


def margin_for(held_out: int) -> int:
    """The decision's margin: at least `MARGIN_EXAMPLES`, and `MARGIN_SHARE` of the held-out examples."""
    return max(MARGIN_EXAMPLES, math.ceil(MARGIN_SHARE * held_out))


def decide(cv: CrossValidation, regression: Regression, margin: int) -> tuple[bool, list[str]]:
    """The decision rule of the module docstring: (promote, one sentence per rule)."""
    top1, top3 = cv.top1, cv.top3
    better_first = top1.candidate.right >= top1.serving.right + margin
    better_top3 = (
        top3.candidate.right >= top3.serving.right + margin and top1.candidate.right >= top1.serving.right
    )
    better = cv.held_out > 0 and (better_first or better_top3)
    known_ok = regression.known_foods_top1.lost <= regression.allowed_known_lost
    no_food_ok = regression.no_food_kept.lost <= regression.allowed_no_food_lost
    measured_fit = cv.fit.reference.of > 0
    fit_ok = not measured_fit or cv.fit.candidate.right >= cv.fit.reference.right - margin
    how = "in cross-validation" if cv.folds > 1 else "on held-out photos"
    reasons = [
        f"{'better' if better else 'not better'} {how} (margin {margin}): first "
        f"{top1.candidate} held-out examples with memory against {top1.serving}, top 3 {top3.candidate} "
        f"against {top3.serving}; {cv.not_held_out} examples of foods taught once not held out",
        f"known foods {'kept' if known_ok else 'lost'}: {regression.known_foods_top1.lost} of "
        f"{regression.known_foods_top1.serving.right} named first lost (allowed "
        f"{regression.allowed_known_lost}); first {regression.known_foods_top1.candidate} against "
        f"{regression.known_foods_top1.serving}",
        f"no-food photos {'kept' if no_food_ok else 'lost'}: {regression.no_food_kept.lost} of "
        f"{regression.no_food_kept.serving.right} lost (allowed {regression.allowed_no_food_lost})",
    ]
    if measured_fit:
        reasons.append(
            f"fit {'as retrained' if fit_ok else 'worse than a fresh retrain'}: the candidate names "
            f"{cv.fit.candidate} taught examples first, a fresh retrain {cv.fit.reference}"
        )
    return better and known_ok and no_food_ok and fit_ok, reasons


def gate(
    serving: ModelBundle,
    candidate: ModelBundle,
    examples: Sequence[tuple[str, np.ndarray]],
    photos_dir: Path,
    *,
    scale: float | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    one_shot: bool = True,
) -> GateReport:
    """Measure a head-only `candidate` of `serving` and decide whether to promote it (module docstring).

    `examples` are the (food key, unit embedding) pairs it was trained on; `photos_dir` the regression set
    (`bench/data/food_photos`). `scale` defaults to the one the candidate recorded. Raises GateError when
    it cannot measure: a candidate that is not a head-only retrain sharing the serving model's embeddings
    (its examples' embeddings would not be its own), no usable example, no photos.
    """
    started = time.perf_counter()
    if not is_head_only(candidate) or embeddings_of(candidate) != embeddings_of(serving):
        raise GateError(
            f"{candidate.id or candidate.path} is not a head-only retrain of a model with the embeddings of "
            f"{serving.id}: the gate measures those only"
        )
    scale = scale if scale is not None else scale_of(candidate)
    if scale is None:
        raise GateError("the candidate records no feature scale; pass scale=")
    params = params_of(candidate)
    files = regression_files(photos_dir)
    cv = cross_validate(serving, examples, scale, params, folds, seed, candidate)
    serving_reader = _Reader.of_bundle(serving)
    serving_answers, features = recognize_files(serving_reader.recognizer, files)
    candidate_answers, _ = recognize_files(_Reader.of_bundle(candidate).recognizer, files)
    known = known_foods(serving.meta)
    regression = compare_on_photos(
        files, serving_answers, candidate_answers, known, known_foods(candidate.meta) - known
    )
    figures = (
        one_shot_figures(serving, files, serving_answers, features, scale, params, seed) if one_shot else None
    )
    return verdict(serving, candidate, cv, regression, started, figures)


def verdict(
    serving: ModelBundle,
    candidate: ModelBundle,
    cv: CrossValidation,
    regression: Regression,
    started: float,
    one_shot: OneShot | None = None,
    method: str = "cross-validation",
) -> GateReport:
    """The decision on what was measured, as the report both gates return (`started`: perf_counter)."""
    margin = margin_for(cv.held_out)
    promote, reasons = decide(cv, regression, margin)
    _LOGGER.info("gate %s against %s: %s", candidate.id, serving.id, "promote" if promote else "refuse")
    return GateReport(
        serving=serving.id,
        candidate=candidate.id,
        promote=promote,
        reasons=reasons,
        margin=margin,
        cross_validation=cv,
        regression=regression,
        one_shot=one_shot,
        seconds=round(time.perf_counter() - started, 2),
        method=method,
    )
