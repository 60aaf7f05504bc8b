"""Corrections: each edit of a photo's meal keeps the rows the training export reads in line."""

from __future__ import annotations

import pytest

from meallog.store.corrections import CorrectionStore
from meallog.store.meals import MealStore
from meallog.store.views import NewItem
from tests.meallog.store.conftest import ALICE, BOB, MODEL_FOODS, NOON, item_of, photo_draft


async def test_change_item_food_takes_the_new_food_default_portion_and_records_a_correction(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)

    changed = await meals.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")

    assert changed is not None
    first = changed.items[0]
    assert (first.food_key, first.name, first.grams, first.source) == ("apple", "Apple", 182, "changed")
    assert first.confidence == pytest.approx(0.08)  # the model's score for the food now chosen
    assert first.macros.kcal == pytest.approx(52 * 1.82)
    assert changed.total.kcal == pytest.approx(52 * 1.82 + 20 * 1.5)
    [correction] = await corrections.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("changed", "pizza", "apple")
    assert correction.model_foods == MODEL_FOODS
    assert (correction.photo_file_id, correction.photo_unique_id) == ("file-1", "unique-1")
    assert (correction.bundle_id, correction.meal_id, correction.user_id) == ("test-bundle-1", meal.id, ALICE)


async def test_changing_a_food_twice_keeps_one_correction_and_changing_it_back_drops_it(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    pizza = item_of(meal, "pizza")

    await meals.change_item_food(meal.id, pizza, ALICE, "apple")
    await meals.change_item_food(meal.id, pizza, ALICE, "rice")
    [correction] = await corrections.corrections(ALICE)
    assert (correction.model_key, correction.final_key) == ("pizza", "rice")

    back = await meals.change_item_food(meal.id, pizza, ALICE, "pizza")
    assert back is not None and back.items[0].food_key == "pizza"
    assert await corrections.corrections(ALICE) == []

    await meals.change_item_food(meal.id, pizza, ALICE, "egg")
    [again] = await corrections.corrections(ALICE)
    assert (again.kind, again.model_key, again.final_key) == ("changed", "pizza", "egg")


async def test_removing_a_model_food_records_removed(meals: MealStore, corrections: CorrectionStore) -> None:
    meal = await photo_draft(meals)

    left = await meals.remove_item(meal.id, item_of(meal, "salad"), ALICE)

    assert left is not None and [i.food_key for i in left.items] == ["pizza"]
    assert left.total.kcal == pytest.approx(266 * 1.07)
    [correction] = await corrections.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("removed", "salad", None)
    assert correction.meal_id == meal.id


async def test_removing_a_changed_food_records_the_model_food_as_removed(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    pizza = item_of(meal, "pizza")
    await meals.change_item_food(meal.id, pizza, ALICE, "apple")

    await meals.remove_item(meal.id, pizza, ALICE)

    [correction] = await corrections.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("removed", "pizza", None)


async def test_adding_a_food_uses_its_default_portion_and_records_added(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)

    added = await meals.add_item(meal.id, ALICE, "egg")
    assert added is not None
    egg = added.items[-1]
    assert (egg.food_key, egg.grams, egg.source, egg.confidence) == ("egg", 50, "typed", None)
    assert egg.macros.protein_g == pytest.approx(12.6 * 0.5)
    assert added.total.kcal == pytest.approx(266 * 1.07 + 20 * 1.5 + 143 * 0.5)
    [correction] = await corrections.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("added", None, "egg")

    with_grams = await meals.add_item(meal.id, ALICE, "rice", grams=200)
    assert with_grams is not None and with_grams.items[-1].grams == 200
    assert [i.food_key for i in with_grams.items] == ["pizza", "salad", "egg", "rice"]
    assert [i.position for i in with_grams.items] == sorted({i.position for i in with_grams.items})

    # An added food changed is still an addition; added then removed is no correction at all.
    rice = with_grams.items[-1].id
    await meals.change_item_food(meal.id, rice, ALICE, "apple")
    await meals.remove_item(meal.id, item_of(with_grams, "egg"), ALICE)
    [correction] = await corrections.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("added", None, "apple")


async def test_a_meal_without_a_photo_records_no_corrections(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await meals.start_draft(ALICE, eaten_at=NOON, items=[NewItem("rice", 158, source="typed")])

    await meals.change_item_food(meal.id, meal.items[0].id, ALICE, "pizza")
    await meals.add_item(meal.id, ALICE, "egg")

    assert await corrections.corrections() == []


async def test_deleting_a_saved_meal_keeps_its_corrections_without_the_link(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    await meals.remove_item(meal.id, item_of(meal, "salad"), ALICE)
    saved = await meals.save_meal(meal.id, ALICE)
    assert saved is not None

    assert await meals.delete_meal(meal.id, BOB) is False
    assert await meals.delete_meal(meal.id, ALICE) is True
    assert await meals.delete_meal(meal.id, ALICE) is False

    assert await meals.get_meal(meal.id, ALICE) is None
    assert await meals.meals_on(ALICE, saved.local_date) == []
    [correction] = await corrections.corrections(ALICE)
    assert correction.meal_id is None
    assert (correction.kind, correction.model_key, correction.photo_file_id) == ("removed", "salad", "file-1")
