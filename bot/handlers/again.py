"""Logging a meal again: `/again`, its buttons, ⭐ on a saved meal's card, and typed "same as yesterday".

`/again` lists the person's favourites and recent meals (`meallog.again`); a tap turns the list into a new
draft's card with the same foods, dated now, to change or Save as usual. The list message's id keys the
draft (`meallog.store.repeats`), so a double tap or an update tried again makes one draft. Typed asks
("again", "same as yesterday's breakfast") are read by `again_from_text`, which the text router calls
before reading a meal; the person's message keys that draft.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.callbacks import Action, pattern
from bot.clock import now_of
from bot.handlers.cards import card_view, record_card, send_card, send_missing_card
from bot.handlers.common import Context, Sender, sender
from bot.handlers.presses import ALREADY_DONE, STALE, MenuPress, menu_press
from bot.journal import tried_before
from bot.keyboards import ON_CARD, STAR_MODE, again_keyboard, saved_card_keyboard, star_keyboard
from bot.services import Services
from meallog.again import (
    EMPTY,
    MAX_FAVOURITES,
    Choice,
    asked_day,
    asked_slot,
    choices,
    list_text,
    none_found,
    pick_meal,
    read_again,
)
from meallog.db.models import MealStatus
from meallog.store.repeats import TooManyFavourites

_LOGGER = logging.getLogger(__name__)

AGAIN_PATTERN = pattern(
    {
        Action.AGAIN,
        Action.AGAIN_FAVOURITE,
        Action.STAR,
        Action.UNSTAR,
        Action.UNSTAR_MEAL,
        Action.AGAIN_LIST,
    }
)
GONE = "That meal is no longer there."
NEW_CARD = "🔁 Here it is again, dated now: change it or Save."
STARRED = "⭐ Added to favourites: /again logs it with one tap."
UNSTARRED = "Removed from favourites."
TOO_MANY = f"You keep {MAX_FAVOURITES} favourites already: unstar one in /again first."


async def _choices(svc: Services, user_id: int) -> list[Choice]:
    return choices(await svc.repeats.favourites(user_id), await svc.repeats.recent_meals(user_id))


async def _send_list(message: Message, svc: Services, user_id: int, note: str = "") -> None:
    """The /again list as a new message (or how to log a first meal, when there is none yet)."""
    found = await _choices(svc, user_id)
    if not found:
        await message.reply_text(EMPTY, parse_mode=ParseMode.HTML)
        return
    await message.reply_text(
        list_text(found, note), parse_mode=ParseMode.HTML, reply_markup=again_keyboard(found)
    )


async def on_again(update: Update, context: Context) -> None:
    """`/again`: the person's favourites and recent meals, one tap each to log it again."""
    who = await sender(update, context)
    if who is None:
        return
    await _send_list(who.message, who.svc, who.person.id)


async def _show_list(found: MenuPress, context: Context, *, starring: bool) -> None:
    """Turn the pressed message into the /again list as it is now: to log a meal, or to star one."""
    shown = await _choices(found.svc, found.person.id)
    if not shown:
        await found.edit(context, EMPTY)
        return
    keyboard = star_keyboard(shown) if starring else again_keyboard(shown)
    await found.edit(context, list_text(shown, starring=starring), keyboard)


async def on_again_press(update: Update, context: Context) -> None:
    """A button of the /again list, or ⭐ on a saved meal's card."""
    found = await menu_press(update, context)
    if found is None:
        return
    match found.press.action:
        case Action.AGAIN | Action.AGAIN_FAVOURITE:
            await _log_again(found, context)
        case Action.STAR:
            await _star(found, context)
        case Action.UNSTAR:
            removed = await found.svc.repeats.unstar(found.person.id, found.press.meal_id)
            await found.query.answer(UNSTARRED if removed else "Not a favourite any more.")
            await _show_list(found, context, starring=True)
        case Action.UNSTAR_MEAL:
            await _unstar_card(found, context)
        case Action.AGAIN_LIST:
            await found.query.answer()
            await _show_list(found, context, starring=found.press.arg == STAR_MODE)
        case _:
            await found.query.answer(STALE)


async def _log_again(found: MenuPress, context: Context) -> None:
    """A tap on a meal of the list: the list becomes the new draft's card (once, however often tapped)."""
    svc, user_id, press = found.svc, found.person.id, found.press
    now = now_of(context)
    if press.action is Action.AGAIN_FAVOURITE:
        made = await svc.repeats.again_from_favourite(
            user_id, press.meal_id, eaten_at=now, key=found.message_id
        )
    else:
        made = await svc.repeats.again_from_meal(user_id, press.meal_id, eaten_at=now, key=found.message_id)
    if made is None:  # deleted or unstarred since the list was shown: show the list as it is now
        await found.query.answer(GONE)
        await _show_list(found, context, starring=False)
        return
    meal = made.meal
    await found.query.answer(NEW_CARD if made.new else ALREADY_DONE)
    if meal.card_message_id not in (None, found.message_id):
        return  # its card moved on to a newer message already
    text, keyboard = card_view(meal, svc)
    await found.edit(context, text, keyboard)
    if meal.card_message_id is None:
        await record_card(svc, meal.id, found.chat_id, found.message_id)


async def _star(found: MenuPress, context: Context) -> None:
    """⭐ on a saved meal's card, or ☆ on a meal of the list while starring."""
    on_card = found.press.arg == ON_CARD
    try:
        favourite = await found.svc.repeats.star(found.person.id, found.press.meal_id)
    except TooManyFavourites:
        await found.query.answer(TOO_MANY, show_alert=True)
        return
    if favourite is None:
        await found.query.answer(GONE)
        if not on_card:
            await _show_list(found, context, starring=True)
        return
    if on_card:
        await found.query.answer(STARRED)
        meal = await found.svc.meals.get_meal(found.press.meal_id, found.person.id)
        if meal is not None:
            await _edit_keyboard(found, context, saved_card_keyboard(meal, starred=True))
        return
    await found.query.answer("⭐ Starred.")
    await _show_list(found, context, starring=True)


async def _unstar_card(found: MenuPress, context: Context) -> None:
    """☆ on a saved meal's card: the favourite with its foods goes."""
    meal = await found.svc.meals.get_meal(found.press.meal_id, found.person.id)
    if meal is None or meal.status != MealStatus.SAVED:
        await found.query.answer(GONE)
        return
    removed = await found.svc.repeats.unstar_meal(found.person.id, meal.id)
    await found.query.answer(UNSTARRED if removed else "Not a favourite any more.")
    await _edit_keyboard(found, context, saved_card_keyboard(meal, starred=False))


async def _edit_keyboard(found: MenuPress, context: Context, keyboard: InlineKeyboardMarkup) -> None:
    """Change the pressed message's buttons only; "not modified" (a double tap) is no error."""
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=found.chat_id, message_id=found.message_id, reply_markup=keyboard
        )
    except BadRequest as exc:
        if "not modified" not in exc.message and "not found" not in exc.message:
            raise
        _LOGGER.debug("buttons of %s/%s kept: %s", found.chat_id, found.message_id, exc.message)


async def again_from_text(who: Sender, context: Context) -> bool:
    """Typed "again", "same as yesterday", "yesterday's lunch again"…: that meal as a new card, dated now.

    False when the text is no such ask (it may be a meal, like "2 eggs"). A day with no meal in the slot
    asked for gets the /again list with a note instead.
    """
    ask = read_again(who.message.text or "")
    if ask is None:
        return False
    message, svc, person = who.message, who.svc, who.person
    key = message.message_id
    if tried_before():  # the journal tried this message before: its card, once
        made_before = await svc.repeats.made_from(person.id, key)
        if made_before is not None:
            await send_missing_card(context, message.chat_id, made_before, svc, key)
            return True
    now = now_of(context)
    if ask.days_back is None:
        meal = next((m for m in await svc.repeats.recent_meals(person.id, limit=20) if m.items), None)
        if meal is None:
            await message.reply_text(EMPTY, parse_mode=ParseMode.HTML)
            return True
    else:
        slot = asked_slot(ask, now, person.timezone)
        day_meals = await svc.meals.meals_on(person.id, asked_day(ask, now, person.timezone))
        meal = pick_meal(day_meals, slot, person.timezone)
        if meal is None:
            await _send_list(message, svc, person.id, note=none_found(ask, slot))
            return True
    made = await svc.repeats.again_from_meal(person.id, meal.id, eaten_at=now, key=key)
    if made is None:  # deleted a moment ago
        await message.reply_text(GONE)
        return True
    if made.new:
        await send_card(context, message.chat_id, made.meal, svc)
    else:
        await send_missing_card(context, message.chat_id, made.meal, svc, key)
    return True
