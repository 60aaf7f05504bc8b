"""Who the bot answers, before any other handler runs.

* A person's data live in their private chat with the bot, never in a group: in a group the bot says
  so once and leaves, a command or a button there gets a pointer to the private chat, and nothing in a
  group registers anyone or reads their meals (so a summary can never go to a group).
* A button answers only the person it was shown to: its message must be in the presser's own chat.
* `ALLOWED_USER_IDS` turns everyone else away politely.
"""

from __future__ import annotations

import logging

from telegram import Chat, ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.handlers.common import Context
from bot.services import services

_LOGGER = logging.getLogger(__name__)

NOT_ALLOWED = "Sorry, this bot is private. Ask its owner to add your Telegram id: {user_id}."
PRIVATE_ONLY = (
    "I keep everyone's meals private, so I only work in a private chat. "
    "Open a chat with me (tap my name) and send your meal photos there."
)
NOT_YOURS = "This button belongs to someone else's message."


async def check_access(update: Update, context: Context) -> None:
    """Stop the update here unless it comes from an allowed person in their own private chat."""
    chat = update.effective_chat
    user = update.effective_user
    if update.my_chat_member is not None:
        return  # the bot was added to or removed from a chat: `on_added_to_group`
    if user is None or chat is None:  # channel posts, polls' states and the like: nothing to answer
        raise ApplicationHandlerStop
    if chat.type != Chat.PRIVATE:
        await _refuse_group(update)
        raise ApplicationHandlerStop
    query = update.callback_query
    if query is not None and query.message is not None and query.message.chat.id != user.id:
        await query.answer(NOT_YOURS)
        raise ApplicationHandlerStop
    allowed = services(context).settings.allowed_user_ids
    if not allowed or user.id in allowed:
        return
    if query is not None:
        await query.answer("Sorry, this bot is private.")
    elif update.effective_message is not None:
        await update.effective_message.reply_text(NOT_ALLOWED.format(user_id=user.id))
    raise ApplicationHandlerStop


async def _refuse_group(update: Update) -> None:
    """A press or a command in a group: point to the private chat (other group chatter is ignored)."""
    if update.callback_query is not None:
        await update.callback_query.answer(PRIVATE_ONLY, show_alert=True)
        return
    message = update.message
    if message is not None and (message.photo or (message.text or "").startswith("/")):
        await message.reply_text(PRIVATE_ONLY)


async def on_added_to_group(update: Update, context: Context) -> None:
    """Added to a group or channel: say where the bot works, then leave."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type == Chat.PRIVATE:
        return
    if change.new_chat_member.status not in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        return
    try:
        if change.chat.type != Chat.CHANNEL:
            await context.bot.send_message(change.chat.id, PRIVATE_ONLY)
        await context.bot.leave_chat(change.chat.id)
    except TelegramError as exc:  # kicked again meanwhile, or no right to write: leaving is best effort
        _LOGGER.info("could not leave chat %s: %s", change.chat.id, exc)
