"""Message texts the bot sends (Telegram HTML). Pure functions: data in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from bot.nutrition import NutritionTable
from bot.portions import Macros, total
from bot.store.views import ItemView, MealView

#: Telegram's limit on a message's text.
MAX_TEXT = 4096


def macros_line(m: Macros) -> str:
    """`612 kcal · protein 31 g · fat 18 g · carbs 70 g`."""
    return f"{m.kcal:.0f} kcal · protein {m.protein_g:.0f} g · fat {m.fat_g:.0f} g · carbs {m.carbs_g:.0f} g"


def portion_text(item: ItemView, table: NutritionTable) -> str:
    """`1 cup cooked, 158 g` for a default portion, `240 g` (with the portion it is based on) otherwise."""
    food = table.get(item.food_key)
    if food is not None and abs(item.grams - food.portion_g) < 0.5:
        return f"{escape(food.portion_name)}, {item.grams:.0f} g"
    if food is not None and food.portion_g > 0:
        share = item.grams / food.portion_g
        return f"{item.grams:.0f} g (≈ {share:.1f} × {escape(food.portion_name)})"
    return f"{item.grams:.0f} g"


def is_unsure(item: ItemView, threshold: float) -> bool:
    """A food the model proposed with low confidence, that the person has not confirmed by changing it."""
    return item.source == "model" and item.confidence is not None and item.confidence < threshold


def meal_card(meal: MealView, table: NutritionTable, unsure_threshold: float) -> str:
    """The meal card: each food with portion and macros, unsure ones marked, and the total."""
    title = escape(meal.caption) if meal.caption else "Your meal"
    lines = [f"🍽 <b>{title}</b>"]
    if not meal.items:
        if meal.prediction is not None and meal.prediction.no_food:
            lines.append("I couldn't find food in this photo.")
        lines.append("Type what you ate, like <i>200 g rice</i> or <i>2 eggs</i>, and I'll add it.")
    for n, item in enumerate(meal.items, 1):
        unsure = is_unsure(item, unsure_threshold)
        mark = " ❓ <i>unsure</i>" if unsure else ""
        lines.append(f"{n}. <b>{escape(item.name)}</b> — {portion_text(item, table)}{mark}")
        lines.append(f"    {macros_line(item.macros)}")
    if meal.items:
        lines.append("")
        lines.append(f"<b>Total:</b> {macros_line(meal.total)}")
    if meal.status == "saved":
        lines.append("✅ Saved.")
    elif meal.items:
        unsure_any = any(is_unsure(i, unsure_threshold) for i in meal.items)
        hint = "Tap a food to fix it, then Save." if unsure_any else "Tap a food to change it, or Save."
        lines.append(hint)
    return "\n".join(lines)


def item_prompt(item: ItemView, table: NutritionTable) -> str:
    """The card's header when one item's options are open."""
    header = f"<b>{escape(item.name)}</b> — {portion_text(item, table)}"
    return f"{header}\n{macros_line(item.macros)}\n\nWhat should change?"


def day_text(day: date, meals: Sequence[MealView], table: NutritionTable, tz: str) -> str:
    """`/today`: the saved meals of a local day with per-meal totals and the day total."""
    header = f"📅 <b>{day:%A, %-d %B}</b>"
    if not meals:
        return (
            f"{header}\nNothing logged yet. Send a photo of your meal, or type something like <i>2 eggs</i>."
        )
    lines = [header]
    for n, meal in enumerate(meals, 1):
        title = escape(meal.caption) if meal.caption else f"Meal {n}"
        when = meal.eaten_at.astimezone(ZoneInfo(tz))
        lines.append(f"\n<b>{n}. {title}</b> ({when:%H:%M}) — {meal.total.kcal:.0f} kcal")
        foods = ", ".join(f"{escape(i.name)} {i.grams:.0f} g" for i in meal.items) or "no foods"
        lines.append(f"    {foods}")
    lines.append(f"\n<b>Day total:</b> {macros_line(total(m.total for m in meals))}")
    return _fit("\n".join(lines))


def _fit(text: str) -> str:
    """Cut an over-long text at a line break so Telegram accepts it."""
    if len(text) <= MAX_TEXT:
        return text
    cut = text.rfind("\n", 0, MAX_TEXT - 20)
    return text[: cut if cut > 0 else MAX_TEXT - 20] + "\n…"
