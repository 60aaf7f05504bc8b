"""From what the model saw to a meal estimate: default portions and their macros.

Plain rules with no Telegram in them; `foodbot predict` prints them and the meal card shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from meallog.nutrition import NutritionTable
from meallog.portions import Macros, macros_for, total
from model.recognition import Recognition


@dataclass(frozen=True, slots=True)
class EstimatedFood:
    """A ranked food with its default portion; `macros` is None when the table lacks the food."""

    key: str
    name: str
    confidence: float
    present: bool
    grams: float
    portion_name: str
    macros: Macros | None


@dataclass(frozen=True, slots=True)
class MealEstimate:
    """The ranked foods with portions, and the total of those that make up the meal."""

    foods: tuple[EstimatedFood, ...]
    total: Macros
    no_food: bool


def estimate_meal(recognition: Recognition, table: NutritionTable) -> MealEstimate:
    """Give each recognized food its default portion; the total counts only the foods present."""
    foods = []
    for ranked in recognition.foods:
        row = table.get(ranked.key)
        foods.append(
            EstimatedFood(
                key=ranked.key,
                name=row.name if row else ranked.name,
                confidence=ranked.confidence,
                present=ranked.present,
                grams=row.portion_g if row else 0.0,
                portion_name=row.portion_name if row else "",
                macros=macros_for(row, row.portion_g) if row else None,
            )
        )
    meal_total = total(f.macros for f in foods if f.present and f.macros is not None)
    return MealEstimate(foods=tuple(foods), total=meal_total, no_food=recognition.no_food)
