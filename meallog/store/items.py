"""A meal's items: which portions and sources are allowed, and the macros stored with each item.

Macros are computed from the nutrition table whenever an item changes and stored with it; saving a
meal freezes the numbers the person saw, so a later change to the table does not rewrite history.
"""

from __future__ import annotations

import math

from meallog.db.models import ITEM_SOURCES, Meal, MealItem
from meallog.nutrition import NutritionTable
from meallog.portions import MAX_GRAMS, Macros, macros_for
from meallog.store.views import stored_macros

#: The smallest portion scaling can reach, in grams (grams are kept to one decimal when scaled).
MIN_SCALED_GRAMS = 0.1
#: The most foods one meal may have: the card shows each with a row of buttons, and a card of this many
#: long-named foods still fits one Telegram message (`meallog.render.meal_card`). More is not one meal.
MAX_ITEMS = 30


def check_grams(grams: float) -> float:
    """`grams` as a float; ValueError unless more than 0 and at most `MAX_GRAMS`."""
    grams = float(grams)
    if not (math.isfinite(grams) and 0 < grams <= MAX_GRAMS):
        raise ValueError(f"grams must be more than 0 and at most {MAX_GRAMS:g}, not {grams!r}")
    return grams


def check_source(source: str) -> str:
    """`source` unchanged; ValueError unless the database allows it."""
    if source not in ITEM_SOURCES:
        raise ValueError(f"item source must be one of {ITEM_SOURCES}, not {source!r}")
    return source


def set_macros(item: MealItem, macros: Macros) -> None:
    """Store `macros` with the item."""
    item.kcal = macros.kcal
    item.protein_g = macros.protein_g
    item.fat_g = macros.fat_g
    item.carbs_g = macros.carbs_g


def model_confidence(meal: Meal, food_key: str) -> float | None:
    """The model's confidence in `food_key` for this meal's photo, if it ranked that food."""
    if meal.prediction is None:
        return None
    for key, confidence in meal.prediction.foods:
        if key == food_key:
            return float(confidence)
    return None


def regram(item: MealItem, grams: float, table: NutritionTable) -> None:
    """Set new grams; macros from the table, or scaled from the stored ones if the table lost the food."""
    food = table.get(item.food_key)
    if food is not None:
        macros = macros_for(food, grams)
    else:
        ratio = grams / item.grams
        stored = stored_macros(item)
        macros = Macros(
            kcal=stored.kcal * ratio,
            protein_g=stored.protein_g * ratio,
            fat_g=stored.fat_g * ratio,
            carbs_g=stored.carbs_g * ratio,
        )
    item.grams = grams
    set_macros(item, macros)
