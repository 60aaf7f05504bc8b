"""What the default model says about real photos, and how a batch treats a bad one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.bundle import ModelBundle, save_bundle
from model.recognizer import Recognizer
from tests.conftest import NON_FOOD_PHOTOS, photo

CITRUS = {"orange", "lemon"}


def test_coffee_is_espresso(recognizer: Recognizer) -> None:
    [rec] = recognizer.predict([photo("coffee.png")])
    assert not rec.no_food
    assert rec.foods[0].key == "espresso"
    assert rec.foods[0].confidence > 0.8
    assert [f.key for f in rec.present] == ["espresso"]
    assert rec.bundle_id == recognizer.bundle_id
    assert rec.labels[0][0] == "n07920052"


def test_orange_is_in_the_top_two(recognizer: Recognizer) -> None:
    [rec] = recognizer.predict([photo("orange.jpg")])
    assert "orange" in [f.key for f in rec.foods[:2]]


def test_fruit_bowl_is_citrus_first(recognizer: Recognizer) -> None:
    [rec] = recognizer.predict([photo("fruits.jpg")])
    assert rec.foods[0].key in CITRUS


@pytest.mark.parametrize("name", NON_FOOD_PHOTOS)
def test_non_food_photos_are_no_food(recognizer: Recognizer, name: str) -> None:
    [rec] = recognizer.predict([photo(name)])
    assert rec.no_food
    assert rec.present == ()


def test_a_bad_photo_fails_alone_and_order_is_kept(recognizer: Recognizer) -> None:
    answers = recognizer.predict([photo("orange.jpg"), b"not a photo", photo("coffee.png"), b""])
    assert len(answers) == 4
    assert answers[1].error and answers[3].error
    assert answers[1].foods == () and answers[3].no_food
    assert answers[0].error is None and "orange" in [f.key for f in answers[0].foods[:2]]
    assert answers[2].foods[0].key == "espresso"


def test_batched_answers_equal_single_answers(recognizer: Recognizer) -> None:
    names = ["coffee.png", "fruits.jpg", "chelsea.png"]
    batched = recognizer.predict([photo(n) for n in names])
    for name, answer in zip(names, batched, strict=True):
        [single] = recognizer.predict([photo(name)])
        assert [f.key for f in single.foods] == [f.key for f in answer.foods]
        assert single.foods[0].confidence == pytest.approx(answer.foods[0].confidence, abs=1e-4)


def test_food_names_come_from_the_caller(default_bundle: ModelBundle) -> None:
    named = Recognizer(default_bundle, "cpu", food_names={"espresso": "Espresso (single shot)"}, top_k=2)
    [rec] = named.predict([photo("coffee.png")])
    assert rec.foods[0].name == "Espresso (single shot)"
    assert len(rec.foods) == 2


def test_sigmoid_bundle_marks_every_food_over_its_threshold(
    default_bundle: ModelBundle, tmp_path: Path
) -> None:
    espresso, orange, lemon = "n07920052", "n07747607", "n07749582"
    meta = default_bundle.meta.model_copy(
        update={"head": "sigmoid", "thresholds": {"default": 0.5, orange: 0.7}}
    )
    multi = Recognizer(save_bundle(tmp_path / "multi", default_bundle.state_dict(), meta), "cpu")
    column = {label: i for i, label in enumerate(meta.labels)}
    scores = np.zeros(len(meta.labels), dtype=np.float32)
    scores[[column[espresso], column[orange], column[lemon]]] = [0.8, 0.65, 0.55]
    rec = multi.interpret(scores)
    assert [f.key for f in rec.foods[:3]] == ["espresso", "orange", "lemon"]
    assert [f.key for f in rec.present] == ["espresso", "lemon"], "orange stays under its own 0.7"
    assert not rec.no_food
    assert multi.interpret(np.full(len(meta.labels), 0.1, dtype=np.float32)).no_food
