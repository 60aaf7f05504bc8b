"""Inline keyboards for the meal card and its prompts. Buttons carry ids only (see bot.callbacks)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import Action, encode
from bot.meal_log import ItemView, MealView
from bot.nutrition import Food

#: How many of the model's other guesses an item's options offer.
ALTERNATIVES_SHOWN = 3


def _button(text: str, action: Action, meal_id: int, item_id: int = 0, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(action, meal_id, item_id, arg))


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def card_keyboard(meal: MealView) -> InlineKeyboardMarkup:
    """A draft's card: one row per food (open its options, or remove it), then add, save, discard."""
    rows = [
        [
            _button(f"✏️ {n}. {_short(item.name)}", Action.ITEM, meal.id, item.id),
            _button("✖", Action.REMOVE, meal.id, item.id),
        ]
        for n, item in enumerate(meal.items, 1)
    ]
    rows.append([_button("➕ Add food", Action.ADD, meal.id)])
    last = [_button("🗑 Discard", Action.DISCARD, meal.id)]
    if meal.items:
        last.insert(0, _button("✅ Save", Action.SAVE, meal.id))
    rows.append(last)
    return InlineKeyboardMarkup(rows)


def alternatives(meal: MealView, item: ItemView) -> list[tuple[int, str]]:
    """The model's other guesses for this photo as (index in the prediction, food key), best first."""
    if meal.prediction is None or item.source == "typed":
        return []
    taken = {i.food_key for i in meal.items}
    found = [(n, key) for n, (key, _conf) in enumerate(meal.prediction.foods) if key not in taken]
    return found[:ALTERNATIVES_SHOWN]


def item_keyboard(meal: MealView, item: ItemView, names: dict[str, str]) -> InlineKeyboardMarkup:
    """One item's options: the model's alternatives, search, portion changes, remove, back."""
    rows = [
        [_button(f"↔ {_short(names.get(key, key), 30)}", Action.ALTERNATIVE, meal.id, item.id, str(n))]
        for n, key in alternatives(meal, item)
    ]
    rows.append([_button("🔎 Search…", Action.SEARCH, meal.id, item.id)])
    rows.append(
        [
            _button("½×", Action.SCALE, meal.id, item.id, "h"),
            _button("1½×", Action.SCALE, meal.id, item.id, "o"),
            _button("2×", Action.SCALE, meal.id, item.id, "d"),
            _button("⌨ grams", Action.GRAMS, meal.id, item.id),
        ]
    )
    rows.append(
        [_button("🗑 Remove", Action.REMOVE, meal.id, item.id), _button("« Back", Action.CARD, meal.id)]
    )
    return InlineKeyboardMarkup(rows)


def search_keyboard(meal_id: int, item_id: int, foods: Sequence[Food]) -> InlineKeyboardMarkup:
    """Search results to pick from (their keys are kept in the person's pending prompt)."""
    rows = [
        [_button(f"{food.name} ({food.kcal:.0f} kcal/100 g)", Action.PICK, meal_id, item_id, str(n))]
        for n, food in enumerate(foods)
    ]
    rows.append([_button("« Back to the meal", Action.CARD, meal_id)])
    return InlineKeyboardMarkup(rows)


def back_keyboard(meal_id: int) -> InlineKeyboardMarkup:
    """While a prompt waits for typed text: a way back to the card."""
    return InlineKeyboardMarkup([[_button("« Back to the meal", Action.CARD, meal_id)]])


def day_keyboard(meals: Sequence[MealView]) -> InlineKeyboardMarkup | None:
    """`/today`: a delete button per meal."""
    if not meals:
        return None
    return InlineKeyboardMarkup(
        [[_button(f"🗑 Delete meal {n}", Action.DELETE, meal.id)] for n, meal in enumerate(meals, 1)]
    )


def confirm_keyboard(yes: Action, meal_id: int, yes_text: str) -> InlineKeyboardMarkup:
    """A yes/cancel pair for deleting and undoing."""
    return InlineKeyboardMarkup(
        [[_button(yes_text, yes, meal_id), _button("Cancel", Action.CANCEL, meal_id)]]
    )
