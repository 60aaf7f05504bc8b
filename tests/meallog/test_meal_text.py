"""Several foods in one typed message or caption: each food with its amount, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from meallog.food_index import open_food_index
from meallog.meal_text import read_meal, split_phrases
from meallog.nutrition import NutritionTable


@pytest.fixture(scope="module")
def table(data_dir: Path) -> NutritionTable:
    table = NutritionTable.load()
    index = open_food_index(data_dir / "foods-fdc.sqlite")
    assert index is not None
    table.attach_index(index)
    return table


def _foods(text: str, table: NutritionTable, *, strict: bool = False) -> list[tuple[str, float]]:
    read = read_meal(text, table, strict=strict)
    return [(f.food.name, f.grams) for f in read.foods]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chicken breast 150g and salad", ["Chicken breast", "Green salad"]),
        ("a bowl of oatmeal with banana", ["Oatmeal", "Banana"]),
        ("2 slices of toast with butter", ["Toast", "Butter"]),
        ("coffee + croissant", ["Coffee", "Croissant"]),
        ("eggs, bacon; toast", ["Egg", "Bacon", "Toast"]),
        ("kimchi and rice", ["Kimchi", "White rice"]),
    ],
)
def test_each_food_of_a_typed_meal_is_on_it(text: str, expected: list[str], table: NutritionTable) -> None:
    assert [name for name, _ in _foods(text, table)] == expected


def test_each_food_keeps_its_own_amount(table: NutritionTable) -> None:
    foods = dict(_foods("chicken breast 150g and salad", table))
    assert foods["Chicken breast"] == 150
    assert foods["Green salad"] > 0
    two_slices = dict(_foods("2 slices of toast with butter", table))["Toast"]
    one_slice = dict(_foods("1 slice of toast", table))["Toast"]
    assert two_slices == 2 * one_slice


def test_a_dish_named_with_and_stays_one_food(table: NutritionTable) -> None:
    assert _foods("mac and cheese", table)[0][0] == "Macaroni and cheese"
    assert [name for name, _ in _foods("fish and chips", table)] == ["Fish and chips"]
    assert split_phrases("200 g mac and cheese with salad", table) == [
        "200 g mac and cheese",
        "salad",
    ]


def test_a_decimal_comma_is_no_separator(table: NutritionTable) -> None:
    assert split_phrases("1,5 kg potatoes, rice", table) == ["1,5 kg potatoes", "rice"]


def test_a_phrase_that_names_no_food_is_reported_not_stretched(table: NutritionTable) -> None:
    read = read_meal("injera with doro wat", table)
    assert [f.food.name for f in read.foods] == ["Injera, Ethiopian bread"]
    assert read.unknown == ["doro wat"]
    nothing = read_meal("Lunch with Anna", table)
    assert nothing.foods == [] and nothing.unknown == ["Lunch", "Anna"]


def test_one_refused_amount_refuses_the_message(table: NutritionTable) -> None:
    read = read_meal("9 kg rice and salad", table)
    assert read.foods == [] and read.refusal is not None and "5 kg" in read.refusal


def test_a_caption_names_foods_only_plainly(table: NutritionTable) -> None:
    assert [name for name, _ in _foods("2 boiled eggs", table, strict=True)] == ["Boiled egg"]
    assert _foods("2 boiled eggs", table, strict=True)[0][1] == 2 * _foods("1 boiled egg", table)[0][1]
    assert _foods("Sunday brunch with Anna", table, strict=True) == []
    assert _foods("Morning coffee", table, strict=True) == []
    assert [name for name, _ in _foods("pizza", table, strict=True)] == ["Pizza"]


def test_a_huge_message_is_cut_short_not_searched_part_by_part(table: NutritionTable) -> None:
    from meallog.meal_text import MAX_PARTS

    for text in ("a n " * 1000, "rice with " * 400, ", ".join(["rice"] * 1000)):
        assert len(split_phrases(text[:4096], table)) <= MAX_PARTS + 1
        read = read_meal(text[:4096], table)
        assert len(read.foods) <= 12 and read.refusal is None


@pytest.mark.parametrize("caption", ["Paris 2024", "Day 100", "Area 51", "Table 12", "Mom 60", "Pizza 2020"])
def test_a_caption_that_is_a_title_with_a_number_is_neither_a_food_nor_refused(
    caption: str, table: NutritionTable
) -> None:
    read = read_meal(caption, table, strict=True)
    assert read.foods == [] and read.refusal is None


def test_an_own_food_named_with_a_number_is_its_default_portion(table: NutritionTable) -> None:
    from meallog.my_foods import food_of, parse_my_food

    soup = food_of(3, parse_my_food("Soup 3 300 g: 150 kcal, 6 protein, 4 fat, 20 carbs"))
    mine = table.with_own([soup])
    read = read_meal("Soup 3", mine)
    assert [(f.food.key, f.grams) for f in read.foods] == [("my_3", 300)]
