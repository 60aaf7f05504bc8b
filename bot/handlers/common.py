"""What most handlers start with: the context type, and who sent this update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Message, Update
from telegram.ext import CallbackContext

from bot.services import Services, services
from meallog.again import read_again
from meallog.nutrition import NutritionTable
from meallog.quick_entry import reads_as_meal
from meallog.store.views import UserView

Context = CallbackContext[Any, Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Sender:
    """The message, the person (registered or refreshed by `PeopleStore.ensure_user`) and the services."""

    message: Message
    person: UserView
    svc: Services

    @property
    def table(self) -> NutritionTable:
        """The nutrition table as this person searches it: their own foods first (`/myfoods`)."""
        return self.svc.table.with_own(self.svc.my_foods.active(self.person.id))


async def moved_on(who: Sender) -> bool:
    """Whether the text under an open prompt is plainly a meal (or "same as yesterday") instead of its
    answer; then the prompt is dropped, and the router logs the meal (`bot.handlers.prompts`)."""
    text = who.message.text or ""
    if read_again(text) is None and not reads_as_meal(text, who.table):
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
    await svc.my_foods.refresh(person.id, person.my_foods_version)
    return Sender(message, person, svc)
