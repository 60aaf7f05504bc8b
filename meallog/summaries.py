"""The daily summary's text: the day's totals against the goals, the meals, the largest contributors.

Pure functions (data in, Telegram HTML out); `bot.schedule` decides who is due and sends. On a day with
nothing logged the person gets a short nudge instead, or nothing when their settings say so
(`EMPTY_DAY_KEY`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from meallog.goals import Goals
from meallog.portions import Macros, macros_line, total
from meallog.render import NAME_CHARS, foods_line, meal_title
from meallog.store.views import MealView
from meallog.text_fit import MAX_TEXT, clip, fit_html

#: The settings key for empty days: "nudge" (the default) or "silent".
EMPTY_DAY_KEY = "empty_day"
EMPTY_DAY_CHOICES = ("nudge", "silent")
BAR_WIDTH = 10
LARGEST_SHOWN = 3


def empty_day_choice(settings: dict[str, Any]) -> str:
    """What the person wants on a day with nothing logged."""
    value = settings.get(EMPTY_DAY_KEY)
    return value if value in EMPTY_DAY_CHOICES else "nudge"


def progress_bar(value: float, target: float, width: int = BAR_WIDTH) -> str:
    """`▰▰▰▰▰▰▱▱▱▱   62%`: the share of the target reached.

    The bar fills only at the target (97 % shows a last empty cell), and past it the bar is full and
    says "over", so a day over its goal never looks like one just under it.
    """
    if target <= 0:
        return ""
    share = max(0.0, value / target)
    if share > 1.0 + 0.5 / 100:  # over by more than the rounding of the percentage
        return f"{'▰' * width} {share * 100:4.0f}% ⚠️ over"
    filled = width if share >= 1.0 else min(width - 1, math.floor(share * width))
    return f"{'▰' * filled}{'▱' * (width - filled)} {share * 100:4.0f}%"


def goal_lines(day_total: Macros, goals: Goals | None) -> list[str]:
    """The totals, each against its goal with a bar when there are goals."""
    if goals is None:
        return [
            macros_line(day_total),
            "<i>Set daily targets with /goal to see your progress here.</i>",
        ]
    rows = [
        ("kcal", day_total.kcal, goals.kcal, ""),
        ("protein", day_total.protein_g, goals.protein_g, " g"),
        ("fat", day_total.fat_g, goals.fat_g, " g"),
        ("carbs", day_total.carbs_g, goals.carbs_g, " g"),
    ]
    lines = []
    for name, value, target, unit in rows:
        amount = f"{value:.0f}/{target:.0f}{unit}"
        lines.append(f"{name:<8}{amount:>12} {progress_bar(value, target)}")
    return ["<pre>" + escape("\n".join(lines)) + "</pre>"]


def largest_contributors(meals: Sequence[MealView], limit: int = LARGEST_SHOWN) -> list[tuple[str, float]]:
    """The foods that brought the most kcal over the day (the same food in several meals adds up)."""
    by_food: dict[str, float] = defaultdict(float)
    for meal in meals:
        for item in meal.items:
            by_food[item.name] += item.macros.kcal
    ranked = sorted(by_food.items(), key=lambda pair: (-pair[1], pair[0]))
    return [(name, kcal) for name, kcal in ranked[:limit] if kcal > 0]


def summary_text(day: date, meals: Sequence[MealView], goals: Goals | None, tz: str) -> str:
    """The summary of a day with meals (see the module docstring); at most `MAX_TEXT` characters.

    The totals, the largest contributors and the footer always show; of a long day's meals, as many as fit,
    then how many more there are (/history has them all).
    """
    day_total = total(meal.total for meal in meals)
    head = [f"🌙 <b>Your day: {day:%A, %-d %B}</b>", "", *goal_lines(day_total, goals)]
    contributors = largest_contributors(meals)
    tail: list[str] = []
    if contributors and day_total.kcal > 0:
        parts = [
            f"{escape(clip(name, NAME_CHARS))} {kcal:.0f} kcal ({kcal / day_total.kcal:.0%})"
            for name, kcal in contributors
        ]
        tail = ["", f"🔝 <b>Largest:</b> {', '.join(parts)}"]
    zone = ZoneInfo(tz)
    meal_lines = ["", f"🍽 <b>Meals</b> ({len(meals)})"]
    for n, meal in enumerate(meals, 1):
        title = meal_title(meal.caption) or f"Meal {n}"
        when = meal.eaten_at.astimezone(zone)
        kcal = meal.total.kcal
        meal_lines.append(f"{n}. <b>{title}</b> {when:%H:%M} — {kcal:.0f} kcal\n    {foods_line(meal)}")
    footer = ["", "<i>/week for the last 7 days · /history to look back or fix a meal</i>"]
    return fit_html(
        [*head, *meal_lines], MAX_TEXT, tail=tail + footer, more=lambda n: f"… and {n} more meals"
    )


def nudge_text(day: date, next_morning: bool = False) -> str:
    """The short note for a day with nothing logged; `next_morning` when it is sent after midnight."""
    logged, then = ("that day", "Today") if next_morning else ("today", "Tomorrow")
    return (
        f"🌙 <b>{day:%A, %-d %B}</b>\n"
        f"Nothing logged {logged}. {then}, send me a photo of each meal, or type it like "
        "<i>2 eggs</i>, and I'll add it all up for you.\n"
        "<i>Don't want this note? /settings</i>"
    )


def daily_message(
    day: date,
    meals: Sequence[MealView],
    goals: dict[str, Any],
    settings: dict[str, Any],
    tz: str,
    *,
    next_morning: bool = False,
) -> str | None:
    """The text to send for a day, or None to stay silent (an empty day, for someone who asked so).

    `next_morning`: the summary goes out after midnight (a night summary time), so "today" is wrong.
    """
    if not meals:
        return nudge_text(day, next_morning) if empty_day_choice(settings) == "nudge" else None
    return summary_text(day, meals, Goals.from_dict(goals), tz)
