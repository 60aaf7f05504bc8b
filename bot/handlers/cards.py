"""Showing a meal card: send it fresh, or edit it in place."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.handlers.common import Context
from bot.keyboards import card_keyboard, saved_card_keyboard
from bot.sent_record import record_sent
from bot.services import Services
from meallog.db.models import MealStatus
from meallog.render import meal_card
from meallog.store.views import MealView

_LOGGER = logging.getLogger(__name__)

SAVED_ALREADY = "This meal is already saved."
OLD_CARD = "This card is out of date — use the newest one below."


def draft_card_refusal(meal: MealView, message_id: int) -> str | None:
    """Why a press on message `message_id` may not change `meal` (a toast), or None when it may.

    Only a draft changes, and only from its current card: a press on an older card of it is out of date.
    A newer message is the card just sent, its id not recorded yet.
    """
    if meal.status != MealStatus.DRAFT:
        return SAVED_ALREADY
    if meal.card_message_id is not None and message_id < meal.card_message_id:
        return OLD_CARD
    return None


def card_view(meal: MealView, svc: Services) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card's text and keyboard (a saved meal's: ⭐ to keep it as a favourite)."""
    text = meal_card(meal, svc.table, svc.unsure_threshold)
    return text, card_keyboard(meal) if meal.status == MealStatus.DRAFT else saved_card_keyboard(meal)


async def send_card(context: Context, chat_id: int, meal: MealView, svc: Services) -> Message:
    """Send the card as a new message and remember it as the meal's card."""
    text, keyboard = card_view(meal, svc)
    message: Message = await context.bot.send_message(
        chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    await record_card(svc, meal.id, chat_id, message.message_id)
    return message


async def record_card(svc: Services, meal_id: int, chat_id: int, message_id: int) -> None:
    """Remember the message that is now the meal's card: through a database blip (`bot.sent_record`),
    since a retried update sends a card again for a meal that has none recorded."""
    await record_sent(lambda: svc.meals.set_card(meal_id, chat_id, message_id), f"the card of meal {meal_id}")


async def send_missing_card(
    context: Context, chat_id: int, meal: MealView, svc: Services, after_message_id: int
) -> None:
    """A meal an earlier try of the person's message `after_message_id` made or added to: send its card
    only if that try never did (its card, if sent, came after the message and has a larger id)."""
    card = meal.card_message_id
    if meal.status == MealStatus.DRAFT and (card is None or card < after_message_id):
        await send_card(context, chat_id, meal, svc)


async def edit_message(
    context: Context, chat_id: int, message_id: int, text: str, keyboard: InlineKeyboardMarkup | None
) -> None:
    """Edit a bot message in place; "not modified" and "not found" are not errors to the person."""
    try:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard
        )
    except BadRequest as exc:
        if "not modified" in exc.message or "not found" in exc.message:
            _LOGGER.debug("edit of %s/%s skipped: %s", chat_id, message_id, exc.message)
            return
        raise


async def remove_card(context: Context, meal: MealView, note: str) -> None:
    """Delete the meal's old card (a newer one follows right below); where Telegram will not delete it
    (older than 48 hours), it becomes `note` instead."""
    if meal.card_chat_id is None or meal.card_message_id is None:
        return
    try:
        await context.bot.delete_message(meal.card_chat_id, meal.card_message_id)
    except BadRequest as exc:
        _LOGGER.debug("card %s/%s not deleted: %s", meal.card_chat_id, meal.card_message_id, exc.message)
        await retire_card(context, meal, note)


async def retire_card(
    context: Context, meal: MealView, note: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """Turn the meal's old card message into a short note (a newer card follows), without buttons
    unless `keyboard` is given."""
    if meal.card_chat_id is not None and meal.card_message_id is not None:
        await edit_message(context, meal.card_chat_id, meal.card_message_id, note, keyboard)
