"""`/export`: every meal and item of a person as CSV, one row per item (a meal without items gets one).

Columns: the meal (id, status, local date, when eaten in UTC and in the person's zone, the zone, its
name), the item (position, food key and name, grams, kcal, protein, fat, carbs, where it came from:
the model, changed by the person, or typed). Numbers use a dot and up to one decimal.

A spreadsheet runs a cell that starts with =, +, - or @ as a formula (`=HYPERLINK(…)` in a caption would be
a link the person did not make), so such text cells start with an apostrophe, as OWASP advises for CSV
injection; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

from meallog.nutrition import Food
from meallog.store.views import MealView

COLUMNS = (
    "meal_id",
    "status",
    "local_date",
    "eaten_at_utc",
    "eaten_at_local",
    "timezone",
    "meal_name",
    "item",
    "food_key",
    "food",
    "grams",
    "kcal",
    "protein_g",
    "fat_g",
    "carbs_g",
    "source",
)


#: What makes a spreadsheet read a cell as a formula (tab and carriage return can hide one of the others).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def text_cell(text: str) -> str:
    """`text` as a spreadsheet shows it rather than runs it: an apostrophe first if it could be a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def meals_csv(meals: Sequence[MealView], tz: str) -> bytes:
    """The CSV file (UTF-8, a header row, RFC 4180 quoting)."""
    zone = ZoneInfo(tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for meal in meals:
        head = [
            meal.id,
            text_cell(meal.status),
            meal.local_date.isoformat(),
            meal.eaten_at.astimezone(UTC).isoformat(timespec="seconds"),
            meal.eaten_at.astimezone(zone).isoformat(timespec="seconds"),
            text_cell(tz),
            text_cell(meal.caption or ""),
        ]
        if not meal.items:
            writer.writerow([*head, *([""] * (len(COLUMNS) - len(head)))])
        for n, item in enumerate(meal.items, 1):
            writer.writerow(
                [
                    *head,
                    n,
                    text_cell(item.food_key),
                    text_cell(item.name),
                    _number(item.grams),
                    _number(item.macros.kcal),
                    _number(item.macros.protein_g),
                    _number(item.macros.fat_g),
                    _number(item.macros.carbs_g),
                    text_cell(item.source),
                ]
            )
    return buffer.getvalue().encode("utf-8")


MY_FOOD_COLUMNS = (
    "food_key",
    "name",
    "kcal_per_100g",
    "protein_g_per_100g",
    "fat_g_per_100g",
    "carbs_g_per_100g",
    "portion_g",
    "portion_name",
)


def my_foods_csv(foods: Sequence[Food]) -> bytes:
    """The person's own foods (/myfoods) as a CSV file, like `meals_csv`; their keys match its food_key."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(MY_FOOD_COLUMNS)
    for food in foods:
        writer.writerow(
            [
                text_cell(food.key),
                text_cell(food.name),
                _number(food.kcal),
                _number(food.protein_g),
                _number(food.fat_g),
                _number(food.carbs_g),
                _number(food.portion_g),
                text_cell(food.portion_name),
            ]
        )
    return buffer.getvalue().encode("utf-8")
