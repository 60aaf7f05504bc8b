"""Ranking with memory, on embeddings made here: what a person notices on the card.

Random unit vectors in 1,280 dimensions are nearly orthogonal, like unrelated photos after centring;
"another photo of the same dish" is its example plus noise.
"""

from __future__ import annotations

import numpy as np

from meallog.memory.ranking import MemoryIndex, rank_with_memory
from meallog.memory.teaching import Lesson, lessons
from model.recognition import RankedFood, Recognition, decode_embedding, encode_embedding

RNG = np.random.default_rng(7)
WIDTH = 1280


def unit() -> np.ndarray:
    v = RNG.normal(size=WIDTH).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, noise: float = 0.6) -> np.ndarray:
    """Another photo of the same thing: cosine about 1/sqrt(1 + noise^2) to `v`."""
    w = v + noise * unit()
    return w / np.linalg.norm(w)


def recognition(vector: np.ndarray, foods: list[tuple[str, float]], no_food: bool = False) -> Recognition:
    return Recognition(
        foods=tuple(
            RankedFood(key, key.capitalize(), p, present=(n == 0 and not no_food))
            for n, (key, p) in enumerate(foods)
        ),
        no_food=no_food,
        bundle_id="b1",
        food_mass=sum(p for _, p in foods),
        embedding=encode_embedding(vector),
    )


def index(*rows: tuple[np.ndarray, str, bool, int]) -> MemoryIndex:
    return MemoryIndex.build(
        [decode_embedding(encode_embedding(v)) for v, _, _, _ in rows],
        [k for _, k, _, _ in rows],
        [own for _, _, own, _ in rows],
        [plate for _, _, _, plate in rows],
    )


def name_of(key: str) -> str:
    return key.replace("_", " ").capitalize()


def first(rec: Recognition) -> str | None:
    return None if rec.no_food else rec.foods[0].key


def test_a_taught_food_the_model_has_no_label_for_is_named_first_next_time() -> None:
    udon = unit()
    memory = index((udon, "udon", True, 0), (unit(), "pizza", True, 1), (unit(), "salad", True, 2))
    later = recognition(near(udon), [("consomme", 0.45), ("hot_pot", 0.2)])
    ranked = rank_with_memory(later, memory, name_of)
    assert first(ranked) == "udon"
    assert ranked.foods[0].name == "Udon" and ranked.foods[0].remembered
    assert "consomme" in [f.key for f in ranked.foods], "the model's answer stays as an alternative"


def test_a_known_food_this_person_corrected_is_fixed_on_their_next_plate() -> None:
    plate = unit()
    memory = index((plate, "spaghetti_tomato", True, 0))
    later = recognition(near(plate), [("carbonara", 0.55), ("lasagna", 0.1)])
    assert first(rank_with_memory(later, memory, name_of)) == "spaghetti_tomato"


def test_photos_unlike_anything_taught_keep_the_models_answer() -> None:
    memory = index(*((unit(), f"food_{n}", True, n) for n in range(100)))
    for _ in range(20):
        plain = recognition(unit(), [("pizza", 0.7), ("bread", 0.1)])
        ranked = rank_with_memory(plain, memory, name_of)
        assert first(ranked) == "pizza"
        assert abs(ranked.foods[0].confidence - 0.7) < 0.05
        assert [f.key for f in ranked.foods[:2]] == ["pizza", "bread"], "the model's order stays"
        cat = recognition(unit(), [("pizza", 0.05)], no_food=True)
        assert rank_with_memory(cat, memory, name_of).no_food


def test_an_egg_taught_once_is_not_no_food_the_next_time() -> None:
    egg = unit()
    memory = index((egg, "egg_boiled", True, 0))
    later = recognition(near(egg), [("bagel", 0.08)], no_food=True)
    ranked = rank_with_memory(later, memory, name_of)
    assert not ranked.no_food and ranked.present[0].key == "egg_boiled"


def test_own_memory_outranks_the_shared_one() -> None:
    photo = unit()
    memory = index((near(photo, 0.5), "mine", True, 0), (near(photo, 0.5), "theirs", False, 1))
    later = recognition(photo, [("pizza", 0.3)])
    ranked = rank_with_memory(later, memory, name_of)
    assert [f.key for f in ranked.foods[:2]] == ["mine", "theirs"]


def test_a_usual_plate_comes_back_with_all_its_foods() -> None:
    pancakes = unit()
    memory = index(
        (pancakes, "pancakes", True, 0),
        (pancakes, "maple_syrup", True, 0),
        (pancakes, "banana", True, 0),
        (unit(), "pizza", True, 1),
    )
    ranked = rank_with_memory(recognition(near(pancakes), [("eggnog", 0.4)]), memory, name_of)
    assert {f.key for f in ranked.present} == {"pancakes", "maple_syrup", "banana"}


def test_nothing_changes_without_memory_or_embedding() -> None:
    plain = recognition(unit(), [("pizza", 0.7)])
    assert rank_with_memory(plain, MemoryIndex.empty(), name_of) is plain
    bare = Recognition(foods=plain.foods, no_food=False, bundle_id="b1")
    assert rank_with_memory(bare, index((unit(), "udon", True, 0)), name_of) is bare


def test_a_saved_meal_teaches_corrections_additions_and_confirmations_once_each() -> None:
    taught = lessons([("pizza", "pizza"), ("salad", None), ("udon", "consomme"), ("salad", None)])
    assert taught == [
        Lesson("pizza", "confirmed"),
        Lesson("salad", "added"),
        Lesson("udon", "corrected"),
    ]


def test_embeddings_travel_as_normalised_float16() -> None:
    v = unit() * 7.0
    data = encode_embedding(v)
    assert len(data) == 2 * WIDTH
    back = decode_embedding(data)
    assert abs(float(np.linalg.norm(back)) - 1.0) < 1e-2
    assert float(back @ (v / 7.0)) > 0.999
    assert encode_embedding(np.zeros(WIDTH)) == b""
    rec = recognition(v, [("pizza", 0.5)])
    assert Recognition.from_json(rec.to_json()) == rec
