"""`ALLOWED_USER_IDS`: everyone else is turned away politely, before any other handler runs."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.handlers.common import Context
from bot.services import services

NOT_ALLOWED = "Sorry, this bot is private. Ask its owner to add your Telegram id: {user_id}."


async def check_access(update: Update, context: Context) -> None:
    """Stop the update here unless its sender is allowed (an empty list allows everyone)."""
    allowed = services(context).settings.allowed_user_ids
    user = update.effective_user
    if not allowed or (user is not None and user.id in allowed):
        return
    if update.callback_query is not None:
        await update.callback_query.answer("Sorry, this bot is private.")
    elif update.effective_message is not None and user is not None:
        await update.effective_message.reply_text(NOT_ALLOWED.format(user_id=user.id))
    raise ApplicationHandlerStop
