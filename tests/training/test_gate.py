"""The gate on real bundles and real photos: it measures, reports every count with its total, and
refuses a candidate that is worse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.bundle import ModelBundle
from model.recognition import decode_embedding
from model.recognizer import Recognizer
from training.gate import (
    CrossValidation,
    GateError,
    GateReport,
    Regression,
    Tally,
    Versus,
    decide,
    fold_of,
    gate,
    margin_for,
)
from training.head_retrain import HeadCandidate, new_foods, retrain_head

PHOTOS = Path(__file__).resolve().parents[2] / "bench" / "data" / "food_photos"
#: New foods with three photos each, one taught once, and known foods; ten no-food photos.
NEW_FOODS = ("carrot", "crab", "eggplant", "garlic", "lettuce", "mango")
ONCE = "ginger"
KNOWN_FOODS = ("apple", "banana")
SCALE = 15.56

Examples = list[tuple[str, np.ndarray]]


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small regression set: links to some of bench/data/food_photos, in the same layout."""
    root = tmp_path_factory.mktemp("regression")
    for folder in (*NEW_FOODS, ONCE, *KNOWN_FOODS, "no_food"):
        (root / folder).mkdir()
        for path in sorted((PHOTOS / folder).iterdir())[:10]:
            (root / folder / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="module")
def examples(recognizer: Recognizer, photos_dir: Path) -> Examples:
    """What people taught: every photo of the new and known foods, one photo of ginger."""
    files = [
        (folder.name, path)
        for folder in sorted(photos_dir.iterdir())
        if folder.name != "no_food"
        for path in sorted(folder.iterdir())[: 1 if folder.name == ONCE else None]
    ]
    answers = recognizer.predict([path.read_bytes() for _, path in files])
    return [(food, decode_embedding(a.embedding)) for (food, _), a in zip(files, answers, strict=True)]


def _save(made: HeadCandidate, folder: Path) -> ModelBundle:
    return made.save(folder / "bundle", onnx=False)


@pytest.fixture(scope="module")
def report(
    default_bundle: ModelBundle,
    examples: Examples,
    photos_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> GateReport:
    made = retrain_head(default_bundle, examples, new_foods(default_bundle.meta, examples), SCALE)
    candidate = made.save(tmp_path_factory.mktemp("good") / "bundle")
    return gate(default_bundle, candidate, examples, photos_dir)


def test_the_gate_counts_everything_out_of_its_total(report: GateReport, examples: Examples) -> None:
    cv = report.cross_validation
    assert cv.examples == len(examples) == 6 * 3 + 1 + 5 + 3
    assert cv.not_held_out == 1  # ginger, taught once
    assert cv.held_out == len(examples) - 1
    for pair in (cv.top1, cv.top3, cv.top1_plain):
        assert pair.serving.of == pair.candidate.of == cv.held_out
    # The serving model cannot name a new food on its own; the retrained one can.
    assert cv.top1_plain.candidate.right > cv.top1_plain.serving.right
    assert cv.fit.candidate == cv.fit.reference  # the candidate is the retrain of these examples
    regression = report.regression
    assert regression.photos == 6 * 3 + 2 + 5 + 3 + 10
    assert regression.no_food_kept.serving == Tally(10, 10)
    assert regression.no_food_kept.lost == 0 and regression.known_foods_top1.lost == 0
    assert regression.known_foods_top1.serving.of == 8
    assert regression.new_foods_top1.serving == Tally(0, 18 + 2)  # ginger is a class too
    assert regression.new_foods_top1.candidate.right >= 16
    one_shot = report.one_shot
    assert one_shot is not None and one_shot.taught == 9 and one_shot.queries == 6 * 2 + 1 + 4 + 2
    assert one_shot.no_food_kept_candidate_memory == Tally(10, 10)
    assert len(report.reasons) == 4 and report.margin == 2


def test_the_report_round_trips_through_json(report: GateReport) -> None:
    again = GateReport.from_json(report.to_json())
    assert again == report
    assert again.to_json() == report.to_json()


def test_a_broken_head_is_refused(
    default_bundle: ModelBundle, examples: Examples, photos_dir: Path, tmp_path: Path
) -> None:
    made = retrain_head(default_bundle, examples, new_foods(default_bundle.meta, examples), SCALE)
    bias = made.state_dict["classifier.bias"].clone()
    bias[1000:] += 12.0  # the new foods win on every photo
    broken = HeadCandidate({**made.state_dict, "classifier.bias": bias}, made.meta)
    result = gate(default_bundle, _save(broken, tmp_path), examples, photos_dir, one_shot=False)
    assert not result.promote
    assert result.regression.no_food_kept.lost == 10
    assert result.regression.known_foods_top1.lost > 0
    assert any(reason.startswith("no-food photos lost: 10 of 10") for reason in result.reasons)
    assert result.cross_validation.fit.candidate.right < result.cross_validation.fit.reference.right


def test_rows_trained_on_shuffled_foods_are_refused(
    default_bundle: ModelBundle, examples: Examples, photos_dir: Path, tmp_path: Path
) -> None:
    foods = [food for food, _ in examples]
    shuffled = [foods[i] for i in np.random.default_rng(0).permutation(len(foods))]
    wrong = [(food, vector) for food, (_, vector) in zip(shuffled, examples, strict=True)]
    made = retrain_head(default_bundle, wrong, new_foods(default_bundle.meta, wrong), SCALE)
    result = gate(default_bundle, _save(made, tmp_path), examples, photos_dir, one_shot=False)
    assert not result.promote
    assert any(reason.startswith("fit worse than a fresh retrain") for reason in result.reasons)


def test_only_a_head_only_candidate_of_the_serving_model_is_measured(
    default_bundle: ModelBundle, examples: Examples, photos_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(GateError, match="head-only retrain"):
        gate(default_bundle, default_bundle, examples, photos_dir)
    made = retrain_head(default_bundle, examples, new_foods(default_bundle.meta, examples), SCALE)
    candidate = _save(made, tmp_path)
    with pytest.raises(GateError, match="not a folder"):
        gate(default_bundle, candidate, examples, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GateError, match="no photos"):
        gate(default_bundle, candidate, examples, tmp_path / "empty")


def test_folds_never_hold_out_a_food_taught_once_nor_all_of_a_food() -> None:
    foods = ["a"] * 7 + ["b"] * 2 + ["c"] + ["d"] * 3
    folds = fold_of(foods, 5, seed=1)
    assert folds[9] == -1 and folds.count(-1) == 1
    sizes = [folds.count(fold) for fold in range(5)]
    assert max(sizes) - min(sizes) <= 1  # 12 held-out examples over 5 folds
    for food in "abd":
        mine = [f for f, k in zip(folds, foods, strict=True) if k == food]
        for fold in range(5):
            assert mine.count(fold) < len(mine)
    assert fold_of(foods, 5, seed=1) == folds


def _cv(serving: int, candidate: int, top3: tuple[int, int] = (0, 0), held_out: int = 100) -> CrossValidation:
    return CrossValidation(
        folds=5,
        examples=held_out,
        held_out=held_out,
        top1=Versus(Tally(serving, held_out), Tally(candidate, held_out)),
        top3=Versus(Tally(top3[0], held_out), Tally(top3[1], held_out)),
    )


def _regression(known_lost: int = 0, no_food_lost: int = 0) -> Regression:
    return Regression(
        photos=151,
        known_foods_top1=Versus(Tally(29, 42), Tally(29 - known_lost, 42), known_lost),
        no_food_kept=Versus(Tally(29, 29), Tally(29 - no_food_lost, 29), no_food_lost),
    )


def test_the_decision_rule() -> None:
    assert margin_for(10) == 2 and margin_for(100) == 2 and margin_for(122) == 3
    assert decide(_cv(50, 52), _regression(), 2)[0]
    assert not decide(_cv(50, 51), _regression(), 2)[0]  # within the margin
    assert decide(_cv(50, 50, (70, 72)), _regression(), 2)[0]  # top 3 better, first not worse
    assert not decide(_cv(50, 49, (70, 80)), _regression(), 2)[0]
    assert not decide(_cv(50, 60), _regression(no_food_lost=1), 2)[0]  # 1 of 29: more than 1 in 50
    assert not decide(_cv(50, 60), _regression(known_lost=1), 2)[0]
    assert not decide(_cv(0, 0, held_out=0), _regression(), 2)[0]  # nothing held out, nothing shown
    promote, reasons = decide(_cv(50, 60), _regression(), 2)
    assert promote and reasons[0].startswith("better in cross-validation (margin 2): first 60 of 100")
