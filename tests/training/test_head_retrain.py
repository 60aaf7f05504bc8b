"""Head-only retrain on the real default bundle and real photos: a taught food becomes a class, known
foods and no-food photos keep their answers, the candidate is a bundle every runtime serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from model.bundle import ModelBundle
from model.recognition import Recognition, decode_embedding
from model.recognizer import Recognizer
from model.runtime import has_embedding
from tests.conftest import FOOD_PHOTOS, NON_FOOD_PHOTOS, photo
from training.head_retrain import (
    HeadCandidate,
    HeadRetrainError,
    TaughtExample,
    choose_training_set,
    embeddings_of,
    feature_scale,
    is_head_only,
    new_foods,
    retrain_head,
    scale_of,
    taught_label,
)

PHOTOS = Path(__file__).resolve().parents[2] / "bench" / "data" / "food_photos"
#: Foods the default model has no label for, three photos each in the photo set.
NEW_FOODS = ("carrot", "crab", "eggplant", "garlic", "lettuce", "mango")
#: Foods it knows.
KNOWN_FOODS = ("apple", "orange", "banana")
#: The median feature norm of the default bundle on the photo set (`feature_scale`), measured once.
SCALE = 15.56


@dataclass
class Shot:
    food: str
    data: bytes
    serving: Recognition

    @property
    def unit(self) -> np.ndarray:
        return decode_embedding(self.serving.embedding)


def first(rec: Recognition) -> str | None:
    return None if rec.no_food or not rec.foods else rec.foods[0].key


@pytest.fixture(scope="module")
def shots(recognizer: Recognizer) -> list[Shot]:
    """The new and known foods' photos and ten no-food photos, recognized by the serving model."""
    files = [
        (folder, path)
        for folder in (*NEW_FOODS, *KNOWN_FOODS, "no_food")
        for path in sorted((PHOTOS / folder).iterdir())[:10]
    ]
    data = [path.read_bytes() for _, path in files]
    answers = recognizer.predict(data)
    return [Shot(folder, d, a) for (folder, _), d, a in zip(files, data, answers, strict=True)]


@pytest.fixture(scope="module")
def candidate(
    default_bundle: ModelBundle, shots: list[Shot], tmp_path_factory: pytest.TempPathFactory
) -> ModelBundle:
    """Taught: every photo of the new foods, and the known foods' photos (which must stay theirs)."""
    examples = [(s.food, s.unit) for s in shots if s.food != "no_food"]
    made = retrain_head(default_bundle, examples, new_foods(default_bundle.meta, examples), SCALE)
    return made.save(tmp_path_factory.mktemp("candidate") / "bundle")


@pytest.fixture(scope="module")
def candidate_answers(candidate: ModelBundle, shots: list[Shot]) -> list[Recognition]:
    return Recognizer(candidate, device="cpu").predict([s.data for s in shots])


def test_taught_photos_come_back_as_the_new_food(
    shots: list[Shot], candidate_answers: list[Recognition]
) -> None:
    named = {food: 0 for food in NEW_FOODS}
    for shot, answer in zip(shots, candidate_answers, strict=True):
        if shot.food in named:
            assert first(shot.serving) != shot.food  # the serving model cannot name it
            named[shot.food] += first(answer) == shot.food
    assert sum(named.values()) >= 16, named  # of 18 photos
    assert all(count >= 2 for count in named.values()), named


def test_known_foods_and_no_food_photos_keep_their_answers(
    shots: list[Shot], candidate_answers: list[Recognition]
) -> None:
    no_food = right = 0
    for shot, answer in zip(shots, candidate_answers, strict=True):
        if shot.food == "no_food":
            assert shot.serving.no_food and answer.no_food, shot
            no_food += 1
        elif shot.food in KNOWN_FOODS and first(shot.serving) == shot.food:
            # A known food the serving model named is still named (a wrong answer may change).
            assert first(answer) == shot.food, shot.food
            right += 1
    assert (no_food, right) == (10, 7)


def test_everyday_photos_keep_their_answers(recognizer: Recognizer, candidate: ModelBundle) -> None:
    names = (*FOOD_PHOTOS, *NON_FOOD_PHOTOS)
    before = recognizer.predict([photo(n) for n in names])
    after = Recognizer(candidate, device="cpu").predict([photo(n) for n in names])
    assert [(first(a), a.no_food) for a in after] == [(first(b), b.no_food) for b in before]


def test_the_candidate_is_a_bundle_every_runtime_serves(
    default_bundle: ModelBundle, candidate: ModelBundle
) -> None:
    import timm

    meta = candidate.meta
    new = [taught_label(food) for food in NEW_FOODS]
    assert meta.labels == [*default_bundle.meta.labels, *new]
    assert {label: meta.label_foods[label] for label in new} == dict(zip(new, NEW_FOODS, strict=True))
    model = timm.create_model(meta.arch, pretrained=False, num_classes=len(meta.labels))
    model.load_state_dict(candidate.state_dict(), strict=True)
    assert candidate.onnx_path is not None and has_embedding(candidate.onnx_path)
    torch_answer = Recognizer(candidate, device="cpu", runtime="torch").predict([photo("orange.jpg")])[0]
    onnx_answer = Recognizer(candidate, device="cpu", runtime="onnx").predict([photo("orange.jpg")])[0]
    assert [f.key for f in torch_answer.foods] == [f.key for f in onnx_answer.foods]
    # Same backbone: the embeddings in memory stay valid for the candidate.
    assert np.allclose(
        decode_embedding(torch_answer.embedding), decode_embedding(onnx_answer.embedding), atol=2e-3
    )
    assert is_head_only(candidate) and embeddings_of(candidate) == default_bundle.id
    assert scale_of(candidate) == SCALE
    assert candidate.id != default_bundle.id


def test_serving_rows_are_kept_and_the_retrain_is_deterministic(
    default_bundle: ModelBundle, shots: list[Shot]
) -> None:
    examples = [(s.food, s.unit) for s in shots if s.food in ("garlic", "apple")]
    one = retrain_head(default_bundle, examples, ["garlic"], SCALE, seed=3)
    two = retrain_head(default_bundle, examples, ["garlic"], SCALE, seed=3)
    serving = default_bundle.state_dict()
    assert torch.equal(one.state_dict["classifier.weight"], two.state_dict["classifier.weight"])
    assert torch.equal(one.state_dict["classifier.weight"][:1000], serving["classifier.weight"])
    assert torch.equal(one.state_dict["classifier.bias"][:1000], serving["classifier.bias"])
    assert one.stats["new_foods"] == {"garlic": 3}
    assert one.stats["examples"] == 3 + 5


def test_a_food_of_too_few_people_is_left_out_and_bad_requests_are_refused(
    default_bundle: ModelBundle, shots: list[Shot]
) -> None:
    examples = [(s.food, s.unit) for s in shots if s.food in ("garlic", "crab")]
    made = retrain_head(default_bundle, examples, ["garlic"], SCALE)
    assert made.stats["left_out"] == {"food neither new nor known": 3}
    assert made.meta.labels[-1] == taught_label("garlic")
    with pytest.raises(HeadRetrainError, match="knows these foods already"):
        retrain_head(default_bundle, examples, ["apple"], SCALE)
    with pytest.raises(HeadRetrainError, match="no usable example"):
        retrain_head(default_bundle, examples, ["garlic", "udon"], SCALE)
    with pytest.raises(HeadRetrainError, match="positive"):
        retrain_head(default_bundle, examples, ["garlic"], 0.0)


def test_feature_scale_is_the_median_feature_norm(default_bundle: ModelBundle) -> None:
    scale = feature_scale(default_bundle, [photo(n) for n in FOOD_PHOTOS] + [b"not a photo"])
    assert 10.0 < scale < 25.0
    with pytest.raises(HeadRetrainError, match="no readable photo"):
        feature_scale(default_bundle, [b"not a photo"])


def _example(user: int, food: str, n: int = 0) -> TaughtExample:
    vector = np.zeros(4, np.float32)
    vector[n % 4] = 1.0
    return TaughtExample(user, food, vector)


def test_choose_training_set_takes_shared_foods_only_and_caps_each_person() -> None:
    examples = [
        *(_example(user, "udon") for user in (1, 2, 3)),
        *(_example(1, "udon", n) for n in range(1, 8)),  # a heavy user: 8 udon photos in all
        _example(1, "pad_thai"),
        _example(2, "pad_thai"),  # two people only
        *(_example(user, "my_7") for user in (1, 2, 3, 4)),  # a person's own food, never shared
        TaughtExample(4, "udon", np.array([np.nan, 0, 0, 0], np.float32)),  # no usable embedding
    ]
    index = {id(e.embedding): i for i, e in enumerate(examples)}
    chosen = choose_training_set(examples, min_people=3, per_person_cap=5)
    # udon only; the heavy user's latest five (of eight), everyone else's one; in the order given.
    assert [index[id(e.embedding)] for e in chosen] == [1, 2, 5, 6, 7, 8, 9]
    assert {e.food_key for e in chosen} == {"udon"}
    two_people = choose_training_set(examples, min_people=2, per_person_cap=1)
    assert [index[id(e.embedding)] for e in two_people] == [1, 2, 9, 10, 11]
    with pytest.raises(HeadRetrainError):
        choose_training_set(examples, min_people=0, per_person_cap=5)


def test_new_foods_are_the_taught_foods_the_model_lacks(default_bundle: ModelBundle) -> None:
    examples = [("udon", np.ones(3)), ("apple", np.ones(3)), ("udon", np.ones(3)), ("my_4", np.ones(3))]
    assert new_foods(default_bundle.meta, examples) == ["udon"]


def test_a_candidate_not_yet_saved_has_no_id(default_bundle: ModelBundle, shots: list[Shot]) -> None:
    made = retrain_head(
        default_bundle, [(s.food, s.unit) for s in shots if s.food == "mango"], ["mango"], SCALE
    )
    assert isinstance(made, HeadCandidate) and made.meta.id == ""
    assert made.meta.provenance["from"] == default_bundle.id
