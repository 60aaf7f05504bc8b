"""A person's own foods ("my foods"): how one is typed, checked, named and found. Plain functions.

Grandma's pie or the protein bar from the gym is in no table, so a person can define it once:

    Protein bar 60 g: 210 kcal, 20 protein, 7 fat, 18 carbs      (numbers for one 60 g bar)
    Granola: 450 kcal, 10 protein, 20 fat, 55 carbs              (numbers per 100 g)

The name comes before the colon (or the first line), with an optional portion weight; the numbers after it,
labelled in any order or as four bare numbers in the order kcal, protein, fat, carbs. With a portion they
are for that portion, unless "per 100 g" is written. They are stored per 100 g, like every food, and
checked like the curated table's: the macros must add up to at most 100 g and roughly to the energy (an
energy in kJ is recognised and said so, not silently divided).

A person's food becomes a `Food` with the key `my_<id>`: everything that holds food keys (meals,
corrections, the memory of corrections) holds it like any other, and the nutrition table resolves it
through `meallog.store.my_foods`. Only its owner finds it in search (`NutritionTable.with_own`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from meallog.nutrition import Food, normalize
from meallog.portions import MAX_GRAMS, macros_for, macros_line
from meallog.text_fit import clip, one_line

#: The key prefix of a person's own food; no curated or FoodData Central key starts with it.
MY_PREFIX: Final = "my_"
#: A name longer than this would not fit a card's line or a button.
NAME_CHARS: Final = 40
#: Foods one person may define: plenty for a household's recipes, and a bound on what a cache holds.
MAX_MY_FOODS: Final = 200
KJ_PER_KCAL: Final = 4.184

EXAMPLE: Final = (
    "<i>Protein bar 60 g: 210 kcal, 20 protein, 7 fat, 18 carbs</i> (for one 60 g bar), or "
    "<i>Granola: 450 kcal, 10 protein, 20 fat, 55 carbs</i> (per 100 g)"
)

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_LABELS: Final[dict[str, str]] = {
    **dict.fromkeys(("kcal", "cal", "cals", "calories", "kcals"), "kcal"),
    **dict.fromkeys(("kj",), "kj"),
    **dict.fromkeys(("p", "prot", "protein", "proteins"), "protein"),
    **dict.fromkeys(("f", "fat", "fats"), "fat"),
    **dict.fromkeys(("c", "carb", "carbs", "carbohydrate", "carbohydrates"), "carbs"),
}
_LABEL = "|".join(sorted(_LABELS, key=len, reverse=True))
_NUMBER_LABEL = re.compile(rf"{_NUMBER}\s*(?:g\s+)?({_LABEL})\b", re.IGNORECASE)
_LABEL_NUMBER = re.compile(rf"\b({_LABEL})\s*:?\s*{_NUMBER}", re.IGNORECASE)
_BARE_NUMBER = re.compile(_NUMBER)
_PER_100 = re.compile(r"per\s*100\s*g\b|/\s*100\s*g\b|100\s*g\s*:", re.IGNORECASE)
# "Protein bar 60 g", "Protein bar (60g)", "Pie, 1 slice 120 g": a weight at the end of the name.
# "Granola per 100 g", "Granola (per 100g)": a name that says its numbers are per 100 g.
_NAME_PER_100 = re.compile(r"[\s,(]*\bper\s*100\s*g\b\)?\s*$", re.IGNORECASE)
# "1e308": a number written with an exponent, which the patterns above would read as "308".
_EXPONENT = re.compile(r"\d[eE][+-]?\d")
_NAME_PORTION = re.compile(r"[\s,(]+(\d+(?:[.,]\d+)?)\s*(g|gr|grams?)\)?\s*$", re.IGNORECASE)


class MyFoodError(ValueError):
    """A definition the bot will not store; `str(error)` is a friendly message to show as is (HTML)."""


@dataclass(frozen=True, slots=True)
class MyFoodSpec:
    """A person's food as typed, checked and made per 100 g, with its default portion."""

    name: str
    kcal: float
    protein_g: float
    fat_g: float
    carbs_g: float
    portion_g: float
    portion_name: str


def my_key(food_id: int) -> str:
    """The food key of a person's food row."""
    return f"{MY_PREFIX}{food_id}"


def my_id(key: str) -> int | None:
    """The row id in a person's food key, or None for any other key."""
    if not key.startswith(MY_PREFIX):
        return None
    digits = key[len(MY_PREFIX) :]
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


def _float(text: str) -> float:
    return float(text.replace(",", "."))


def _split(text: str) -> tuple[str, str]:
    """The name part and the numbers part: at the first colon, else at the first line break."""
    if ":" in text and not _LABEL_NUMBER.match(text.strip()):
        name, _, numbers = text.partition(":")
        if not _PER_100.search(name + ":") or _BARE_NUMBER.search(numbers):
            return name, numbers
    if "\n" in text.strip():
        name, _, numbers = text.strip().partition("\n")
        return name, numbers
    raise MyFoodError(f"Type the name, a colon, then the numbers, like {EXAMPLE}.")


def _values(numbers: str) -> dict[str, float]:
    """kcal (or kJ), protein, fat and carbs from the numbers part, labelled or as four bare numbers."""
    values: dict[str, float] = {}
    for number, label in _NUMBER_LABEL.findall(numbers):
        values.setdefault(_LABELS[label.lower()], _float(number))
    for label, number in _LABEL_NUMBER.findall(numbers):
        values.setdefault(_LABELS[label.lower()], _float(number))
    if not values:
        bare = [_float(n) for n in _BARE_NUMBER.findall(_PER_100.sub(" ", numbers))]
        if len(bare) == 4:
            values = dict(zip(("kcal", "protein", "fat", "carbs"), bare, strict=True))
    if "kj" in values and "kcal" not in values:
        values["kcal"] = values["kj"] / KJ_PER_KCAL
    missing = [name for name in ("kcal", "protein", "fat", "carbs") if name not in values]
    if missing:
        raise MyFoodError(f"I need {', '.join(missing)} too. Type them like {EXAMPLE}.")
    return values


def _checked_name(raw: str) -> str:
    name = clip(one_line(raw).strip(" -–—,.;"), NAME_CHARS)
    if not normalize(name):
        raise MyFoodError(f"Give the food a name before the colon, like {EXAMPLE}.")
    return name


def parse_my_food(text: str) -> MyFoodSpec:
    """A person's food from what they typed; raises `MyFoodError` (a friendly message) when it cannot be
    stored: no name, a number missing, macros of more than 100 g per 100 g, or energy that does not fit
    the macros (4 kcal per gram of protein and carbs, 9 of fat, with room for fibre and alcohol)."""
    name_part, numbers = _split(text)
    if _EXPONENT.search(numbers):
        raise MyFoodError(f"Type the numbers plainly, without exponents, like {EXAMPLE}.")
    portion_g = 100.0
    portion_name = "100 g"
    per_portion = False
    per_100 = _NAME_PER_100.search(name_part)
    if per_100 is not None:
        name_part = name_part[: per_100.start()]
    weighed = _NAME_PORTION.search(name_part)
    if weighed is not None:
        portion_g = _float(weighed.group(1))
        name_part = name_part[: weighed.start()]
        portion_name = f"1 portion ({portion_g:g} g)"
        per_portion = per_100 is None and not _PER_100.search(numbers)
    name = _checked_name(name_part)
    if not 0 < portion_g <= MAX_GRAMS:
        raise MyFoodError(f"A portion must weigh between 1 and {MAX_GRAMS:g} g.")
    values = _values(numbers)
    share = 100.0 / portion_g if per_portion else 1.0
    kcal, protein, fat, carbs = (values[k] * share for k in ("kcal", "protein", "fat", "carbs"))
    _check_numbers(kcal, protein, fat, carbs, given_kj="kj" in values and "kcal" not in numbers.lower())
    return MyFoodSpec(
        name=name,
        kcal=round(kcal, 2),
        protein_g=round(protein, 2),
        fat_g=round(fat, 2),
        carbs_g=round(carbs, 2),
        portion_g=round(portion_g, 1),
        portion_name=portion_name,
    )


def _check_numbers(kcal: float, protein: float, fat: float, carbs: float, *, given_kj: bool) -> None:
    """The curated table's checks, per 100 g, worded for the person."""
    if protein + fat + carbs > 100.5:
        raise MyFoodError(
            "Protein, fat and carbs add up to more than the food weighs. Check the numbers, "
            "and write the portion's weight after the name if they are for one portion "
            "(like <i>Bar 60 g:</i>)."
        )
    from_macros = 4 * protein + 4 * carbs + 9 * fat
    tolerance = max(60.0, 0.5 * from_macros)
    if kcal > 902 or abs(kcal - from_macros) > tolerance:
        hint = ""
        if not given_kj and abs(kcal / KJ_PER_KCAL - from_macros) <= tolerance:
            hint = " That looks like kJ: write <i>kJ</i> after it, or give the kcal."
        elif kcal > 902:
            hint = " No food has more than 900 kcal per 100 g (pure fat)."
        raise MyFoodError(
            f"{kcal:.0f} kcal per 100 g doesn't fit those macros (they make about {from_macros:.0f} kcal)."
            f"{hint} Check the numbers and type it again."
        )


def food_of(food_id: int, spec: MyFoodSpec) -> Food:
    """The person's food as the nutrition table's `Food`, under its key `my_<id>`."""
    return Food(
        key=my_key(food_id),
        name=spec.name,
        kcal=spec.kcal,
        protein_g=spec.protein_g,
        fat_g=spec.fat_g,
        carbs_g=spec.carbs_g,
        portion_g=spec.portion_g,
        portion_name=spec.portion_name,
        source="mine",
    )


def describe(food: Food) -> str:
    """ "210 kcal · protein 20 g · fat 7 g · carbs 18 g per 1 portion (60 g)": what one portion holds."""
    return f"{macros_line(macros_for(food, food.portion_g))} per {food.portion_name}"
