"""The full retrain on real photos and the real default bundle: it keeps every class it had, learns the
taught foods as new classes, is measured on held-out photos, and fetches photos by file id with care."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest

from model.bundle import ModelBundle
from model.recognition import decode_embedding
from model.recognizer import Recognizer
from training.full_retrain import (
    DEFAULT_FULL_PARAMS,
    FullCandidate,
    TaughtPhoto,
    is_full,
    read_photo,
    retrain_full,
    split_held_out,
)
from training.gate import GateError, recognize_files, regression_files
from training.head_retrain import HeadRetrainError, classifier_keys, taught_label
from training.held_out_gate import gate_held_out
from training.taught_photos import FetchedPhotos, PhotoGone, fetch_photos

PHOTOS = Path(__file__).resolve().parents[2] / "bench" / "data" / "food_photos"
NEW_FOODS = ("carrot", "garlic", "mango")
KNOWN_FOOD = "apple"
SCALE = 15.56
#: One short epoch: enough to show what the method keeps and adds, in seconds on two cores.
QUICK = replace(DEFAULT_FULL_PARAMS, epochs=2, batch_size=8)


def _photos(food: str) -> list[Path]:
    return sorted(path for path in (PHOTOS / food).iterdir() if path.suffix != ".txt")


@pytest.fixture(scope="module")
def regression_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small regression set in the gate's layout: the taught foods, a known food, six no-food photos."""
    root = tmp_path_factory.mktemp("regression")
    for folder in (*NEW_FOODS, KNOWN_FOOD, "no_food"):
        (root / folder).mkdir()
        for path in _photos(folder)[:6]:
            (root / folder / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="module")
def taught(recognizer: Recognizer) -> list[TaughtPhoto]:
    """Every photo of the new foods and of apple, with the serving model's embedding, as memory keeps it."""
    files = [(food, path) for food in (*NEW_FOODS, KNOWN_FOOD) for path in _photos(food)]
    answers = recognizer.predict([path.read_bytes() for _, path in files])
    return [
        TaughtPhoto(food, path, decode_embedding(answer.embedding))
        for (food, path), answer in zip(files, answers, strict=True)
    ]


@pytest.fixture(scope="module")
def held(taught: list[TaughtPhoto]) -> list[bool]:
    """The photos the gate holds out, as `foodbot retrain` splits them."""
    return split_held_out([p.food_key for p in taught], 0.2, seed=0, photos=[str(p.photo) for p in taught])


@pytest.fixture(scope="module")
def trained(taught: list[TaughtPhoto], held: list[bool]) -> list[TaughtPhoto]:
    return [photo for photo, out in zip(taught, held, strict=True) if not out]


@pytest.fixture(scope="module")
def candidate(
    default_bundle: ModelBundle, trained: list[TaughtPhoto], tmp_path_factory: pytest.TempPathFactory
) -> FullCandidate:
    out = tmp_path_factory.mktemp("full") / "bundle"
    return retrain_full(default_bundle, trained, list(NEW_FOODS), SCALE, out, params=QUICK, device="cpu")


def test_held_out_photos_leave_every_food_something_to_learn_from() -> None:
    foods = ["a"] * 10 + ["b"] * 3 + ["c"] * 2 + ["d"]
    held = split_held_out(foods, 0.2, seed=0)
    by_food = {food: [h for f, h in zip(foods, held, strict=True) if f == food] for food in "abcd"}
    assert sum(by_food["a"]) == 2, "a fifth of ten"
    assert sum(by_food["b"]) == 1 and sum(by_food["c"]) == 1, "at least one of a food with two or more"
    assert by_food["d"] == [False], "a food taught once is never held out"
    assert all(not all(flags) for flags in by_food.values()), "every food keeps a photo to learn from"
    assert split_held_out(foods, 0.2, seed=0) == held, "the same seed holds out the same photos"
    assert split_held_out(foods, 0.2, seed=1) != held
    with pytest.raises(HeadRetrainError):
        split_held_out(foods, 1.0, seed=0)


def test_a_photo_is_held_out_whole_so_the_gate_never_sees_a_trained_pixel() -> None:
    # Photo p1 is a plate taught as rice and chicken; p2 was forwarded to two people who both taught it.
    foods = ["rice", "chicken", "rice", "rice", "chicken", "soup", "soup", "soup"]
    photos = ["p1", "p1", "p2", "p2", "p3", "p4", "p5", "p4"]
    for seed in range(20):
        held = split_held_out(foods, 0.5, seed=seed, photos=photos)
        for photo in set(photos):
            flags = {h for p, h in zip(photos, held, strict=True) if p == photo}
            assert len(flags) == 1, f"seed {seed}: photo {photo} both trained on and held out"
        for food in set(foods):
            kept = {p for p, f, h in zip(photos, foods, held, strict=True) if f == food and not h}
            assert kept, f"seed {seed}: {food} has no photo left to learn from"
        assert any(held)


def test_the_candidate_keeps_every_class_and_adds_the_taught_foods(
    default_bundle: ModelBundle, candidate: FullCandidate, trained: list[TaughtPhoto]
) -> None:
    meta, serving = candidate.bundle.meta, default_bundle.meta
    assert is_full(candidate.bundle) and not is_full(default_bundle)
    assert meta.labels == [*serving.labels, *(taught_label(food) for food in NEW_FOODS)]
    assert all(meta.label_foods[label] == food for label, food in serving.label_foods.items())
    assert meta.thresholds == serving.thresholds and meta.data_config == serving.data_config
    assert meta.provenance["from"] == default_bundle.id and meta.provenance["new_foods"] == list(NEW_FOODS)
    assert candidate.stats["photos"] == len(trained)
    assert candidate.stats["images_per_s"] > 0 and len(candidate.stats["history"]) == QUICK.epochs
    assert candidate.bundle.onnx_path is not None, "served on the CPU through its checked ONNX export"
    # The whole network learned: the body's weights moved, not only the head.
    state, before = candidate.bundle.state_dict(), default_bundle.state_dict()
    weight_key, _ = classifier_keys(state, len(meta.labels))
    moved = [
        k for k in before if k != weight_key and not k.endswith("bias") and not (state[k] == before[k]).all()
    ]
    assert any(k.startswith("blocks.") for k in moved)
    # BatchNorm statistics stay the serving model's.
    assert all((state[k] == before[k]).all() for k in before if k.endswith(("running_mean", "running_var")))


def test_the_candidate_names_what_it_was_taught_and_still_sees_no_food(
    default_bundle: ModelBundle, candidate: FullCandidate, trained: list[TaughtPhoto], regression_dir: Path
) -> None:
    answers = Recognizer(candidate.bundle, device="cpu").predict([read_photo(p.photo) for p in trained])
    named = sum(
        1 for photo, answer in zip(trained, answers, strict=True) if answer.foods[0].key == photo.food_key
    )
    assert named >= len(trained) - 2, f"{named} of {len(trained)} taught photos named first"
    files = [(food, path) for food, path in regression_files(regression_dir) if food == "no_food"]
    before, _ = recognize_files(Recognizer(default_bundle, device="cpu"), files)
    after, _ = recognize_files(Recognizer(candidate.bundle, device="cpu"), files)
    assert sum(a.no_food for a in after) >= sum(b.no_food for b in before) - 1


def test_the_same_photos_train_the_same_candidate(
    default_bundle: ModelBundle, trained: list[TaughtPhoto], candidate: FullCandidate, tmp_path: Path
) -> None:
    again = retrain_full(
        default_bundle, trained, list(NEW_FOODS), SCALE, tmp_path / "again", params=QUICK, device="cpu"
    )
    assert again.bundle.id == candidate.bundle.id, "a rerun on the same data is recognized as the same"


def test_unreadable_photos_are_skipped_and_a_new_food_needs_one(
    default_bundle: ModelBundle, taught: list[TaughtPhoto], tmp_path: Path
) -> None:
    broken = [taught[0], TaughtPhoto("melon", b"not a photo", taught[0].embedding)]
    with pytest.raises(HeadRetrainError, match=r"no readable photo of the new foods \['melon'\]"):
        retrain_full(
            default_bundle, broken, [taught[0].food_key, "melon"], SCALE, tmp_path / "x", params=QUICK
        )


def test_the_held_out_gate_reports_what_it_measured(
    default_bundle: ModelBundle,
    candidate: FullCandidate,
    taught: list[TaughtPhoto],
    held: list[bool],
    regression_dir: Path,
) -> None:
    foods = [photo.food_key for photo in taught]
    report = gate_held_out(
        default_bundle, candidate.bundle, [p.photo for p in taught], foods, held, regression_dir
    )
    cv, regression = report.cross_validation, report.regression
    assert report.method == "held out" and cv.folds == 1
    assert cv.held_out == sum(held) and cv.top1.serving.of == cv.top1.candidate.of == sum(held)
    assert regression.photos == len(regression_files(regression_dir))
    assert regression.no_food_kept.serving.of == len(_photos("no_food")[:6])
    assert regression.new_foods_top1.candidate.of == sum(len(_photos(f)[:6]) for f in NEW_FOODS)
    assert len(report.reasons) == 3, "no fit rule for a full retrain"
    assert "held-out photos" in report.reasons[0]
    with pytest.raises(GateError, match="not a full retrain"):
        gate_held_out(default_bundle, default_bundle, [p.photo for p in taught], foods, held, regression_dir)
    with pytest.raises(GateError, match="held out"):
        gate_held_out(
            default_bundle,
            candidate.bundle,
            [p.photo for p in taught],
            foods,
            [False] * len(foods),
            regression_dir,
        )


class _Example(NamedTuple):
    photo_file_id: str | None
    photo_unique_id: str | None


def test_photos_are_fetched_once_each_and_failures_cost_only_themselves(tmp_path: Path) -> None:
    jpeg = _photos("apple")[0].read_bytes()
    calls: list[str] = []

    async def fetch(file_id: str) -> bytes:
        calls.append(file_id)
        if file_id == "gone":
            raise PhotoGone("wrong file identifier")
        if file_id == "flaky":
            raise ConnectionError("reset")
        return b"garbage" if file_id == "junk" else jpeg

    examples = [
        _Example("f1", "u1"),
        _Example("f1-other-size", "u1"),  # the same photo taught another food, by another file id
        _Example("f2", "u2"),
        _Example(None, None),  # `foodbot teach` from a file
        _Example("gone", "u3"),
        _Example("flaky", "u4"),
        _Example("junk", "u5"),
    ]
    fetched = asyncio.run(fetch_photos(examples, fetch, FetchedPhotos(tmp_path / "photos"), at_once=2))
    assert sorted(calls) == ["f1", "f2", "flaky", "gone", "junk"]
    assert fetched.counts() == {"fetched": 2, "no_file_id": 1, "gone": 1, "failed": 1, "unreadable": 1}
    assert fetched.path_of(examples[1]) == fetched.path_of(examples[0]) is not None
    assert fetched.path_of(examples[0]).read_bytes() == jpeg  # type: ignore[union-attr]
    assert fetched.path_of(examples[4]) is None and fetched.gone == ["u3"]
    # A second call fetches only what is still missing (and never a photo Telegram said is gone).
    calls.clear()
    asyncio.run(fetch_photos([*examples, _Example("f3", "u6")], fetch, fetched))
    assert sorted(calls) == ["f3", "flaky", "junk"]
    assert fetched.paths["u6"].read_bytes() == jpeg
