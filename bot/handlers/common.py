"""What most handlers start with: the context type, and who sent this update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Message, Update
from telegram.ext import CallbackContext

from bot.services import Services, services
from meallog.quick_entry import reads_as_meal
from meallog.store.views import UserView

Context = CallbackContext[Any, Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Sender:
    """The message, the person (registered or refreshed by `PeopleStore.ensure_user`) and the services."""

    message: Message
    person: UserView
    svc: Services


async def moved_on(who: Sender) -> bool:
    """Whether the text under an open prompt is plainly a meal instead of its answer; then the prompt is
    dropped, and the router logs the meal (`bot.handlers.prompts`)."""
    if not reads_as_meal(who.message.text or "", who.svc.table):
        return False
    await who.svc.people.set_pending(who.person.id, None)
    return True


async def sender(update: Update, context: Context) -> Sender | None:
    """The sender of a message update, registered on first contact; None for updates without one."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return None
    svc = services(context)
    person = await svc.people.ensure_user(user.id, message.chat_id)
    return Sender(message, person, svc)
