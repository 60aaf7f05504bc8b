"""`/myfoods`: a person defines, changes and deletes their own foods (the rules: `meallog.my_foods`).

A food defined here is found first when they type or search it, and lands on cards like any other; it
never shows up for anyone else. `/myfoods Granola: 450 kcal, 10 protein, 20 fat, 55 carbs` defines one
in one message; `/myfoods` alone lists them with buttons to change or delete each (with an undo).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.callbacks import Action, encode_person, number_arg
from bot.handlers.common import Context, Sender, moved_on, sender
from bot.handlers.presses import STALE, MenuPress, menu_press
from meallog.my_foods import EXAMPLE, MyFoodError, describe, my_id, parse_my_food
from meallog.nutrition import Food
from meallog.prompts import Prompt, PromptKind
from meallog.text_fit import clip

#: Foods listed (and given a button) in one message; search finds the rest.
LISTED = 20
NEW_PROMPT = f"➕ Type your food: its name, a colon, then kcal, protein, fat and carbs, like {EXAMPLE}."


def _button(text: str, arg: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode_person(Action.MY_FOOD, arg))


def list_view(foods: Sequence[Food]) -> tuple[str, InlineKeyboardMarkup]:
    """The /myfoods message: the person's foods and what each holds, a button each, and "New food"."""
    new = [_button("➕ New food", "n")]
    if not foods:
        text = (
            "🥣 <b>Your foods</b>\nNone yet. Add a food that no search finds (a recipe, a product), "
            f"and I'll find it first whenever you type it.\n\n{NEW_PROMPT}"
        )
        return text, InlineKeyboardMarkup([new])
    lines = [f"🥣 <b>Your foods</b> ({len(foods)})"]
    for food in foods[:LISTED]:
        lines.append(f"• <b>{escape(clip(food.name, 40))}</b>: {describe(food)}")
    if len(foods) > LISTED:
        lines.append(f"…and {len(foods) - LISTED} more: type a name to find them.")
    lines.append("\nType one like any food to log it, e.g. <i>1 " + escape(clip(foods[0].name, 40)) + "</i>.")
    rows = [[_button(f"✏️ {clip(food.name, 30)}", f"s{_id(food)}")] for food in foods[:LISTED]]
    return "\n".join(lines), InlineKeyboardMarkup([*rows, new])


def _id(food: Food) -> int:
    found = my_id(food.key)
    assert found is not None, food.key
    return found


def food_view(food: Food) -> tuple[str, InlineKeyboardMarkup]:
    """One food with its numbers, and Change / Delete / back to the list."""
    text = f"🥣 <b>{escape(food.name)}</b>\n{describe(food)}"
    keyboard = InlineKeyboardMarkup(
        [
            [_button("✏️ Change", f"e{_id(food)}"), _button("🗑 Delete", f"d{_id(food)}")],
            [_button("« Your foods", "l")],
        ]
    )
    return text, keyboard


async def on_my_foods(update: Update, context: Context) -> None:
    """`/myfoods`: the list; `/myfoods NAME: NUMBERS` defines a food at once."""
    who = await sender(update, context)
    if who is None:
        return
    typed = (who.message.text or "").partition(" ")[2].strip()
    if typed:
        await _define(who, typed, food_id=None)
        return
    text, keyboard = list_view(await who.svc.my_foods.foods(who.person.id))
    await who.message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def answer_my_food(who: Sender, context: Context) -> bool:
    """Typed text under the "type your food" prompt: define (or change) the food."""
    prompt = who.person.pending
    text = (who.message.text or "").strip()
    if prompt is None:
        return False
    if ":" not in text and "\n" not in text and await moved_on(who):  # "2 eggs": a meal, not a food
        return False
    await _define(who, text, food_id=prompt.item_id or None)
    return True


async def _define(who: Sender, text: str, food_id: int | None) -> None:
    """Store the typed food (new, or a change of `food_id`) and say what was stored, or why not."""
    svc, user_id = who.svc, who.person.id
    try:
        spec = parse_my_food(text)
        if food_id is None:
            food: Food | None = await svc.my_foods.create(user_id, spec)
        else:
            food = await svc.my_foods.change(user_id, food_id, spec)
    except MyFoodError as refused:
        await who.message.reply_text(f"{refused}", parse_mode=ParseMode.HTML)
        return  # the prompt stays open for another try
    await svc.people.set_pending(user_id, None)
    if food is None:
        await who.message.reply_text("That food is gone. See /myfoods.")
        return
    done = "✅ Saved" if food_id is None else "✅ Changed"
    await who.message.reply_text(
        f"{done} <b>{escape(food.name)}</b>: {describe(food)}.\n"
        f"Type it like any food to log it, e.g. <i>1 {escape(clip(food.name, 40))}</i>. Your foods: /myfoods",
        parse_mode=ParseMode.HTML,
    )


async def on_my_food_press(update: Update, context: Context) -> None:
    """The /myfoods buttons: list, new, show, change, delete and undo."""
    menu = await menu_press(update, context)
    if menu is None:
        return
    op, digits = menu.press.arg[:1], menu.press.arg[1:]
    food_id = number_arg(digits) or 0
    store, user_id = menu.svc.my_foods, menu.person.id
    if op == "l":
        await menu.query.answer()
        await _edit(menu, context, list_view(await store.foods(user_id)))
    elif op == "n":
        await menu.svc.people.set_pending(user_id, Prompt(PromptKind.MY_FOOD))
        await menu.query.answer()
        await menu.edit(context, NEW_PROMPT)
    elif op in "sedu" and op and food_id:
        await _food_press(menu, context, op, food_id)
    else:
        await menu.query.answer(STALE)


async def _food_press(menu: MenuPress, context: Context, op: str, food_id: int) -> None:
    store, user_id = menu.svc.my_foods, menu.person.id
    if op == "u":
        try:
            food = await store.delete(user_id, food_id, restore=True)
        except MyFoodError as refused:  # a food of that name was made since, or the list is full
            await menu.query.answer()
            await menu.edit(context, f"{refused}", None)
            return
        await menu.query.answer("Restored." if food is not None else STALE)
        if food is not None:
            await _edit(menu, context, food_view(food))
        return
    food = await store.get(user_id, food_id)
    if food is None:
        await menu.query.answer("That food is gone.")
        await _edit(menu, context, list_view(await store.foods(user_id)))
        return
    if op == "s":
        await menu.query.answer()
        await _edit(menu, context, food_view(food))
    elif op == "e":
        await menu.svc.people.set_pending(user_id, Prompt(PromptKind.MY_FOOD, item_id=food_id))
        await menu.query.answer()
        await menu.edit(
            context,
            f"✏️ Type <b>{escape(food.name)}</b> again with the new name or numbers, like {EXAMPLE}.",
        )
    else:
        await store.delete(user_id, food_id)
        await menu.query.answer("Deleted.")
        undo = InlineKeyboardMarkup([[_button("↩️ Undo", f"u{food_id}"), _button("« Your foods", "l")]])
        await menu.edit(
            context,
            f"🗑 Deleted <b>{escape(food.name)}</b>. Meals you logged with it keep it.",
            undo,
        )


async def _edit(menu: MenuPress, context: Context, view: tuple[str, InlineKeyboardMarkup]) -> None:
    await menu.edit(context, *view)
