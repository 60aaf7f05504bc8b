"""`/export`: every meal and item of a person as CSV, one row per item (a meal without items gets one).

Columns: the meal (id, status, local date, when eaten in UTC and in the person's zone, the zone, its
name), the item (position, food key and name, grams, kcal, protein, fat, carbs, where it came from:
the model, changed by the person, or typed). Numbers use a dot and up to one decimal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

from bot.store.views import MealView

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


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def meals_csv(meals: Sequence[MealView], tz: str) -> bytes:
    """The CSV file (UTF-8, a header row, RFC 4180 quoting)."""
    zone = ZoneInfo(tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for meal in meals:
        head = [
            meal.id,
            meal.status,
            meal.local_date.isoformat(),
            meal.eaten_at.astimezone(UTC).isoformat(timespec="seconds"),
            meal.eaten_at.astimezone(zone).isoformat(timespec="seconds"),
            tz,
            meal.caption or "",
        ]
        if not meal.items:
            writer.writerow([*head, *([""] * (len(COLUMNS) - len(head)))])
        for n, item in enumerate(meal.items, 1):
            writer.writerow(
                [
                    *head,
                    n,
                    item.food_key,
                    item.name,
                    _number(item.grams),
                    _number(item.macros.kcal),
                    _number(item.macros.protein_g),
                    _number(item.macros.fat_g),
                    _number(item.macros.carbs_g),
                    item.source,
                ]
            )
    return buffer.getvalue().encode("utf-8")
