"""A person's own foods: typed the way people write a label, checked like the curated table."""

from __future__ import annotations

import pytest

from meallog.my_foods import MyFoodError, describe, food_of, my_id, my_key, parse_my_food
from meallog.nutrition import NutritionTable


def test_numbers_for_a_portion_are_stored_per_100_g() -> None:
    spec = parse_my_food("Protein bar 60 g: 210 kcal, 20 protein, 7 fat, 18 carbs")
    assert spec.name == "Protein bar"
    assert spec.portion_g == 60
    assert spec.kcal == pytest.approx(350)
    assert spec.protein_g == pytest.approx(33.33, abs=0.01)
    assert "210 kcal" in describe(food_of(1, spec))


def test_numbers_without_a_portion_are_per_100_g() -> None:
    spec = parse_my_food("Granola: 450 kcal, 10 protein, 20 fat, 55 carbs")
    assert (spec.name, spec.kcal, spec.portion_g, spec.portion_name) == ("Granola", 450, 100, "100 g")


@pytest.mark.parametrize(
    "typed",
    [
        "Granola: 450 10 20 55",
        "Granola: p 10, f 20, c 55, kcal 450",
        "Granola:\n450 kcal\n10 g protein\n20 g fat\n55 g carbs",
        "Granola\n450 kcal 10 p 20 f 55 c",
        "Granola (40 g): 450 kcal 10 p 20 f 55 c per 100 g",
    ],
)
def test_labels_in_any_order_or_four_bare_numbers(typed: str) -> None:
    spec = parse_my_food(typed)
    assert (spec.name, spec.kcal, spec.protein_g, spec.fat_g, spec.carbs_g) == ("Granola", 450, 10, 20, 55)


def test_kilojoules_are_converted() -> None:
    spec = parse_my_food("Oat drink: 190 kJ, 1 protein, 1.5 fat, 6.6 carbs")
    assert spec.kcal == pytest.approx(45.4, abs=0.1)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("450 kcal 10 protein 20 fat 55 carbs", "name"),
        ("Granola: 450 kcal, 10 protein", "fat, carbs"),
        ("Granola", "colon"),
        ("Granola: 450 kcal, 60 protein, 30 fat, 40 carbs", "more than the food weighs"),
        ("Granola: 1880 kcal, 10 protein, 20 fat, 55 carbs", "kJ"),
        ("Granola: 100 kcal, 10 protein, 20 fat, 55 carbs", "doesn't fit"),
        (": 100 kcal, 10 protein, 2 fat, 5 carbs", "name"),
    ],
)
def test_a_definition_that_cannot_be_right_is_refused_with_the_reason(typed: str, says: str) -> None:
    with pytest.raises(MyFoodError, match=says):
        parse_my_food(typed)


def test_keys_name_rows_and_nothing_else() -> None:
    assert my_key(12) == "my_12" and my_id("my_12") == 12
    assert my_id("pizza") is None and my_id("my_pie") is None and my_id("my_" + "9" * 30) is None


def test_own_foods_come_first_in_search_and_only_in_that_persons_view() -> None:
    table = NutritionTable.load()
    pie = food_of(7, parse_my_food("Grandma's apple pie 120 g: 300 kcal, 4 protein, 14 fat, 40 carbs"))
    mine = table.with_own([pie])
    assert mine.search("apple pie", limit=3)[0] == pie
    assert mine.search("grandmas pie", limit=3)[0] == pie
    assert mine.exact("grandma's apple pie") == pie
    assert all(food.key != pie.key for food in table.search("apple pie", limit=10))
    assert table.exact("grandma's apple pie") is None
    assert mine.search("apple", limit=5)[0] == pie  # every typed word starts a word of the name


def test_per_100_g_in_the_name_and_exponents() -> None:
    assert parse_my_food("Granola per 100 g: 450 kcal, 10 protein, 20 fat, 55 carbs").name == "Granola"
    bar = parse_my_food("Bar (60 g) (per 100 g): 450 kcal, 10 protein, 20 fat, 55 carbs")
    assert (bar.name, bar.kcal, bar.portion_g) == ("Bar", 450, 60)
    with pytest.raises(MyFoodError, match="exponent"):
        parse_my_food("Granola: 1e308 kcal, 10 protein, 20 fat, 55 carbs")
