"""Button presses on meal cards, /today and /undo. Every press is answered exactly once."""

from __future__ import annotations

import logging
from html import escape

from telegram import CallbackQuery, Update

from bot.callbacks import PORTIONS, Action, Press, decode, number_arg
from bot.clock import now_of
from bot.handlers.cards import SAVED_ALREADY, card_view, draft_card_refusal, edit_message
from bot.handlers.common import Context
from bot.handlers.presses import ALREADY_DONE
from bot.handlers.text import split_off
from bot.journal import tried_before
from bot.keyboards import BACK_TO_DAY, back_keyboard, confirm_keyboard, day_keyboard, item_keyboard
from bot.services import Services, services
from meallog.local_time import local_date_of
from meallog.portions import MAX_GRAMS, MAX_WEIGHT_TEXT, macros_line
from meallog.prompts import Prompt, PromptKind
from meallog.render import day_text, item_prompt
from meallog.store.items import MAX_ITEMS
from meallog.store.meals import StaleCard, TooManyItems
from meallog.store.views import MealView

_LOGGER = logging.getLogger(__name__)

KEPT = "↩️ No changes: the saved meal stays as it was."

STALE = "This button is out of date."
GONE = "That meal is no longer there."

#: Actions that change a draft; they only work on the meal's current card.
_DRAFT_ACTIONS = {
    Action.ITEM,
    Action.ALTERNATIVE,
    Action.SEARCH,
    Action.SCALE,
    Action.GRAMS,
    Action.REMOVE,
    Action.ADD,
    Action.PICK,
    Action.SAVE,
    Action.DISCARD,
    Action.CARD,
}


async def on_press(update: Update, context: Context) -> None:
    """Route a press; a forged, stale or foreign press gets a short toast, never an error."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    press = decode(query.data)
    if press is None or query.message is None:
        await query.answer(STALE)
        return
    svc = services(context)
    await svc.my_foods.refresh_for(user.id)  # the meal may hold the person's own foods
    if press.action is Action.SPLIT:
        await split_off(query, context, svc, user.id, press)
        return
    meal = await svc.meals.get_meal(press.meal_id, user.id)
    if meal is None:
        await query.answer(GONE)
        return
    if press.action in _DRAFT_ACTIONS:
        refusal = draft_card_refusal(meal, query.message.message_id)
        if refusal is not None:
            await query.answer(refusal)
            if (
                refusal == SAVED_ALREADY
                and tried_before()
                and query.message.message_id == meal.card_message_id
            ):
                # An earlier try saved the meal but failed before its card showed it (Telegram or the
                # process gone in between): show it now, or the person sees a draft that is saved.
                await _show_card(query, context, svc, meal)
            return
        try:
            await _draft_press(query, context, svc, user.id, meal, press)
        except StaleCard:  # pressed on an older state (a double tap, a press delivered twice): once only
            current = await svc.meals.get_meal(meal.id, user.id)
            await query.answer(ALREADY_DONE if current is not None else GONE)
            if current is not None:
                await _show_card(query, context, svc, current)
        except TooManyItems:
            await query.answer(f"A meal holds at most {MAX_ITEMS} foods: save this one and start another.")
    else:
        await _log_press(query, context, svc, user.id, meal, press)


async def _show_card(query: CallbackQuery, context: Context, svc: Services, meal: MealView) -> None:
    text, keyboard = card_view(meal, svc)
    await _edit(query, context, text, keyboard)


async def _edit(query: CallbackQuery, context: Context, text: str, keyboard: object) -> None:
    message = query.message
    assert message is not None
    await edit_message(context, message.chat.id, message.message_id, text, keyboard)  # type: ignore[arg-type]


async def _draft_press(
    query: CallbackQuery, context: Context, svc: Services, user_id: int, meal: MealView, press: Press
) -> None:
    item = next((i for i in meal.items if i.id == press.item_id), None)
    if press.item_id and item is None:
        await query.answer(STALE)
        return
    updated: MealView | None = meal
    toast: str | None = None
    match press.action:
        case Action.CARD:
            await svc.people.set_pending(user_id, None)
        case Action.ITEM:
            assert item is not None
            food = svc.table.get(item.food_key)
            keyboard = item_keyboard(meal, item, svc.table.name_of, food.portion_g if food else None)
            await query.answer()
            await _edit(query, context, item_prompt(item, svc.table), keyboard)
            return
        case Action.ALTERNATIVE:
            foods = meal.prediction.foods if meal.prediction else ()
            index = -1 if (number := number_arg(press.arg)) is None else number
            if not 0 <= index < len(foods):
                await query.answer(STALE)
                return
            updated = await svc.meals.change_item_food(
                meal.id, press.item_id, user_id, foods[index][0], version=press.version
            )
            toast = "Changed."
        case Action.SCALE:
            portions = PORTIONS.get(press.arg)
            food = svc.table.get(item.food_key) if item is not None else None
            if portions is None or food is None:
                await query.answer(STALE)
                return
            if food.portion_g * portions > MAX_GRAMS:
                await query.answer(f"That would be more than {MAX_WEIGHT_TEXT}.")
                return
            updated = await svc.meals.set_portions(
                meal.id, press.item_id, user_id, portions, version=press.version
            )
        case Action.REMOVE:
            updated = await svc.meals.remove_item(meal.id, press.item_id, user_id, version=press.version)
            toast = "Removed."
        case Action.GRAMS | Action.SEARCH | Action.ADD:
            kind = PromptKind.GRAMS if press.action is Action.GRAMS else PromptKind.SEARCH
            await svc.people.set_pending(user_id, Prompt(kind, meal_id=meal.id, item_id=press.item_id))
            prompt = (
                f"How many grams of <b>{escape(item.name) if item else ''}</b>? Type a number, like 150."
                if press.action is Action.GRAMS
                else "Type the food's name, like <i>rice</i> or <i>200 g chicken breast</i>."
            )
            await query.answer()
            await _edit(query, context, prompt, back_keyboard(meal.id))
            return
        case Action.PICK:
            updated = await _pick(svc, user_id, meal, press)
            if updated is None:
                await query.answer(STALE)
                return
            await svc.people.set_pending(user_id, None)
        case Action.SAVE:
            updated = await svc.meals.save_meal(meal.id, user_id, version=press.version)
            if updated is not None:
                toast = await _saved_toast(context, svc, user_id, updated)
        case Action.DISCARD:
            await svc.meals.discard_draft(meal.id, user_id)
            await svc.people.set_pending(user_id, None)
            if meal.replaces_meal_id is not None:  # a saved meal reopened: the saved one stays as it was
                await query.answer("Kept as it was.")
                await _edit(query, context, KEPT, None)
                return
            await query.answer("Discarded.")
            await _edit(query, context, "🗑 Discarded.", None)
            return
    if updated is None:
        await query.answer(GONE)
        return
    await query.answer(toast)
    await _show_card(query, context, svc, updated)


async def _pick(svc: Services, user_id: int, meal: MealView, press: Press) -> MealView | None:
    """Apply search result number `arg` from the person's pending results."""
    user = await svc.people.get_user(user_id)
    pending = user.pending if user else None
    if pending is None or pending.kind is not PromptKind.RESULTS or pending.meal_id != meal.id:
        return None
    keys = pending.keys or ()
    index = -1 if (number := number_arg(press.arg)) is None else number
    if not 0 <= index < len(keys):
        return None
    grams = pending.grams
    if press.item_id:
        updated = await svc.meals.change_item_food(
            meal.id, press.item_id, user_id, keys[index], version=press.version
        )
        if updated is not None and grams:
            updated = await svc.meals.set_item_grams(meal.id, press.item_id, user_id, float(grams))
        return updated
    return await svc.meals.add_item(
        meal.id, user_id, keys[index], float(grams) if grams else None, version=press.version
    )


async def _saved_toast(context: Context, svc: Services, user_id: int, meal: MealView) -> str:
    user = await svc.people.get_user(user_id)
    tz = user.timezone if user else "UTC"
    meals = await svc.meals.meals_on(user_id, meal.local_date)
    today = local_date_of(now_of(context), tz) == meal.local_date
    day_kcal = sum(m.total.kcal for m in meals)
    return f"Saved. {'Today' if today else meal.local_date.isoformat()}: {day_kcal:.0f} kcal"


async def _show_day(
    query: CallbackQuery, context: Context, svc: Services, user_id: int, meal: MealView
) -> None:
    """The list of the meal's day, as /today shows it."""
    user = await svc.people.get_user(user_id)
    tz = user.timezone if user else "UTC"
    meals = await svc.meals.meals_on(user_id, meal.local_date)
    await _edit(query, context, day_text(meal.local_date, meals, svc.table, tz), day_keyboard(meals))


async def _log_press(
    query: CallbackQuery, context: Context, svc: Services, user_id: int, meal: MealView, press: Press
) -> None:
    """Presses on /today and /undo messages (saved meals)."""
    match press.action:
        case Action.DELETE:
            await query.answer()
            text = f"Delete this meal? {macros_line(meal.total)}"
            keyboard = confirm_keyboard(Action.DELETE_YES, meal.id, "🗑 Delete", cancel_arg=BACK_TO_DAY)
            await _edit(query, context, text, keyboard)
        case Action.DELETE_YES | Action.UNDO_YES:
            deleted = await svc.meals.delete_meal(meal.id, user_id)
            await query.answer("Deleted." if deleted else GONE)
            await _show_day(query, context, svc, user_id, meal)
        case Action.CANCEL if press.arg == BACK_TO_DAY:  # the question replaced the day's list: back to it
            await query.answer("Nothing changed.")
            await _show_day(query, context, svc, user_id, meal)
        case Action.CANCEL:
            await query.answer("Nothing changed.")
            await _edit(query, context, "Nothing changed.", None)
        case _:
            await query.answer(STALE)
