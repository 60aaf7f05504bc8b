"""Grams of a food to energy and macros, and sums of those; plain arithmetic that knows nothing of Telegram.

    rice = default_table()["rice"]
    lunch = total([macros_for(rice, 150), macros_for(chicken, 120)])

Values stay floats all the way; rounding is for whoever renders them, so sums of rounded parts never drift
from the rounded sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from meallog.nutrition import Food

#: The largest amount of one food one item may have, in grams: more is a typo or a whole pot, not a meal.
MAX_GRAMS = 5000.0
#: The same limit as the messages say it.
MAX_WEIGHT_TEXT = f"{MAX_GRAMS / 1000:g} kg"


@dataclass(frozen=True)
class Macros:
    """Energy (kcal) and grams of protein, fat and carbohydrate of some amount of food."""

    kcal: float
    protein_g: float
    fat_g: float
    carbs_g: float

    def __add__(self, other: Macros) -> Macros:
        if not isinstance(other, Macros):
            return NotImplemented
        return Macros(
            kcal=self.kcal + other.kcal,
            protein_g=self.protein_g + other.protein_g,
            fat_g=self.fat_g + other.fat_g,
            carbs_g=self.carbs_g + other.carbs_g,
        )

    @classmethod
    def zero(cls) -> Macros:
        """Nothing eaten: the start of a sum."""
        return cls(kcal=0.0, protein_g=0.0, fat_g=0.0, carbs_g=0.0)


def macros_line(m: Macros, *, decimals: int = 0, bold_kcal: bool = False) -> str:
    """`612 kcal · protein 31 g · fat 18 g · carbs 70 g`: one wording for a meal, a day and daily goals.

    `decimals` is for the grams only (kcal are always whole); `bold_kcal` wraps the kcal in HTML <b>.
    """
    kcal = f"<b>{m.kcal:.0f} kcal</b>" if bold_kcal else f"{m.kcal:.0f} kcal"
    grams = f".{decimals}f"
    return f"{kcal} · protein {m.protein_g:{grams}} g · fat {m.fat_g:{grams}} g · carbs {m.carbs_g:{grams}} g"


def macros_for(food: Food, grams: float) -> Macros:
    """What `grams` of `food` hold; the table's values are per 100 g."""
    if not math.isfinite(grams) or grams < 0:
        raise ValueError(f"grams must be a number of at least 0, got {grams!r}")
    share = grams / 100.0
    return Macros(
        kcal=food.kcal * share,
        protein_g=food.protein_g * share,
        fat_g=food.fat_g * share,
        carbs_g=food.carbs_g * share,
    )


def total(items: Iterable[Macros]) -> Macros:
    """The sum of some macros; zero for none."""
    result = Macros.zero()
    for item in items:
        result = result + item
    return result
