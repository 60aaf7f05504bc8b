"""Message texts the bot sends (Telegram HTML). Pure functions: data in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from meallog.db.models import MealStatus
from meallog.nutrition import NutritionTable
from meallog.portions import macros_line, total
from meallog.store.views import ItemView, MealView
from meallog.text_fit import MAX_TEXT, Page, clip, fit_html, one_line, page_of, visible_len
from meallog.units import amount_words

#: A caption shown as a meal's name in a list (/today, /history, the daily summary), and on its card.
TITLE_CHARS = 60
CARD_TITLE_CHARS = 200
#: A food's name in a list or on a card (the table's are shorter; a custom table's may not be).
NAME_CHARS = 40
#: The foods line under each meal of a day: whole foods up to this many characters, then "+N more".
FOODS_CHARS = 200
#: Meals per page of a day; a page of the longest meals still fits one message, and its buttons a keyboard.
MEALS_PER_PAGE = 10


def portion_text(item: ItemView, table: NutritionTable) -> str:
    """`1 cup cooked, 158 g` for a default portion; `2 large (100 g)` or `½ pizza (428 g)` for a whole or
    half number of one of the food's units (`meallog.units.amount_words`); else `240 g` with the portion
    it is based on."""
    food = table.get(item.food_key)
    if food is not None and abs(item.grams - food.portion_g) < 0.5:
        return f"{escape(food.portion_name)}, {item.grams:.0f} g"
    if food is not None and (said := amount_words(food, item.grams)) is not None:
        return f"{escape(said)} ({item.grams:.0f} g)"
    if food is not None and food.portion_g > 0:
        share = item.grams / food.portion_g
        return f"{item.grams:.0f} g (≈ {share:.1f} × {escape(food.portion_name)})"
    return f"{item.grams:.0f} g"


def is_unsure(item: ItemView, threshold: float) -> bool:
    """A food the model proposed with low confidence, that the person has not confirmed by changing it."""
    return item.source == "model" and item.confidence is not None and item.confidence < threshold


def meal_title(caption: str | None, limit: int = TITLE_CHARS) -> str | None:
    """A caption as a meal's name (HTML): one line, clipped, escaped; None for a meal without one."""
    return escape(clip(one_line(caption), limit)) if caption and caption.strip() else None


def meal_card(meal: MealView, table: NutritionTable, unsure_threshold: float) -> str:
    """The meal card: each food with portion and macros, unsure ones marked, and the total.

    With many foods (up to `meallog.store.items.MAX_ITEMS`) each takes one line instead of two, so the card
    still fits one message and its buttons keep working; the total and the hint always show.
    """
    body = [f"🍽 <b>{meal_title(meal.caption, CARD_TITLE_CHARS) or 'Your meal'}</b>"]
    if not meal.items:
        if meal.prediction is not None and meal.prediction.no_food:
            body.append("I couldn't find food in this photo.")
        body.append("Type what you ate, like <i>200 g rice</i> or <i>2 eggs</i>, and I'll add it.")
    tail: list[str] = []
    if meal.items:
        tail += ["", f"<b>Total:</b> {macros_line(meal.total)}"]
    if meal.status == MealStatus.SAVED:
        tail.append("✅ Saved.")
    elif meal.items:
        unsure_any = any(is_unsure(i, unsure_threshold) for i in meal.items)
        tail.append("Tap a food to fix it, then Save." if unsure_any else "Tap a food to change it, or Save.")
    full = [_item_block(n, item, table, unsure_threshold) for n, item in enumerate(meal.items, 1)]
    if visible_len("\n".join([*body, *full, *tail])) <= MAX_TEXT:
        return "\n".join([*body, *full, *tail])
    short = [_item_line(n, item, unsure_threshold) for n, item in enumerate(meal.items, 1)]
    return fit_html([*body, *short], tail=tail)


def _item_block(n: int, item: ItemView, table: NutritionTable, unsure_threshold: float) -> str:
    """A food on the card: its name and portion, then its macros."""
    mark = " ❓ <i>unsure</i>" if is_unsure(item, unsure_threshold) else ""
    name = escape(clip(item.name, NAME_CHARS))
    return f"{n}. <b>{name}</b> — {portion_text(item, table)}{mark}\n    {macros_line(item.macros)}"


def _item_line(n: int, item: ItemView, unsure_threshold: float) -> str:
    """A food on a card of many: grams and kcal on one line."""
    mark = " ❓" if is_unsure(item, unsure_threshold) else ""
    name = escape(clip(item.name, NAME_CHARS))
    return f"{n}. <b>{name}</b> — {item.grams:.0f} g · {item.macros.kcal:.0f} kcal{mark}"


def item_prompt(item: ItemView, table: NutritionTable) -> str:
    """The card's header when one item's options are open."""
    header = f"<b>{escape(item.name)}</b> — {portion_text(item, table)}"
    food = table.get(item.food_key)
    portions = (
        f"\n½× 1× 1½× 2× = portions of {escape(food.portion_name)} ({food.portion_g:g} g)" if food else ""
    )
    return f"{header}\n{macros_line(item.macros)}\n\nWhat should change?{portions}"


def drafts_note(drafts: Sequence[MealView]) -> str:
    """`/today`'s reminder of the day's unsaved meals: they count for nothing until saved (HTML)."""
    if not drafts:
        return ""
    meals = "; ".join(foods_line(meal) for meal in drafts[:3]) + ("; …" if len(drafts) > 3 else "")
    count = f"{len(drafts)} meal{'s' if len(drafts) != 1 else ''}"
    return f"\n\n📝 <i>{count} not saved yet ({meals}): Save on its card to count it.</i>"


def day_page(meals: Sequence[MealView], page: int) -> Page:
    """Which of a day's meals page `page` shows (the text and its buttons agree through this)."""
    return page_of(len(meals), page, MEALS_PER_PAGE)


def foods_line(meal: MealView) -> str:
    """`Egg 100 g, Coffee 240 g`: a meal's foods in a list, whole ones up to `FOODS_CHARS`."""
    foods = [f"{escape(clip(i.name, NAME_CHARS))} {i.grams:.0f} g" for i in meal.items]
    return fit_html(foods, FOODS_CHARS, sep=", ", more=lambda n: f"+{n} more") if foods else "no foods"


def day_text(day: date, meals: Sequence[MealView], table: NutritionTable, tz: str, page: int = 0) -> str:
    """`/today`, `/history`: a local day's saved meals with their totals, and the day total.

    A day of more than `MEALS_PER_PAGE` meals shows page `page` of them (the buttons page through); the
    day total is always there. Meals are numbered across pages, as their buttons are.
    """
    header = f"📅 <b>{day:%A, %-d %B}</b>"
    if not meals:
        return (
            f"{header}\nNothing logged yet. Send a photo of your meal, or type something like <i>2 eggs</i>."
        )
    shown = day_page(meals, page)
    body = [header]
    if shown.pages > 1:
        body.append(f"<i>Meals {shown.start + 1}–{shown.stop} of {shown.count}; ◀ ▶ below for the rest.</i>")
    zone = ZoneInfo(tz)
    for n in range(shown.start, shown.stop):
        meal = meals[n]
        title = meal_title(meal.caption) or f"Meal {n + 1}"
        when = meal.eaten_at.astimezone(zone)
        kcal = meal.total.kcal
        body.append(f"\n<b>{n + 1}. {title}</b> ({when:%H:%M}) — {kcal:.0f} kcal\n    {foods_line(meal)}")
    tail = [f"\n<b>Day total:</b> {macros_line(total(m.total for m in meals))}"]
    return fit_html(body, tail=tail)
