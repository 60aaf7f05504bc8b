"""What most handlers start with: the context type, and who sent this update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Message, Update
from telegram.ext import CallbackContext

from bot.meal_log import UserView
from bot.services import Services, services

Context = CallbackContext[Any, Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Sender:
    """The message, the person (registered or refreshed in the meal log) and the services."""

    message: Message
    person: UserView
    svc: Services


async def sender(update: Update, context: Context) -> Sender | None:
    """The sender of a message update, registered on first contact; None for updates without one."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return None
    svc = services(context)
    person = await svc.meal_log.ensure_user(user.id, message.chat_id)
    return Sender(message, person, svc)
