"""What menu buttons (settings, goals, history, forget) start with: the press, who pressed, the services."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from bot.callbacks import Press, decode_person
from bot.handlers.cards import edit_message
from bot.handlers.common import Context
from bot.services import Services, services
from meallog.store.views import UserView

STALE = "This button is out of date."
#: The answer to a press made on an older state of a draft (a double tap, a press delivered twice).
ALREADY_DONE = "Already done — this is the meal as it is now."


@dataclass(frozen=True, slots=True)
class MenuPress:
    """A parsed press on a bot message, with the person (registered on the spot) and the services."""

    query: CallbackQuery
    press: Press
    person: UserView
    svc: Services
    chat_id: int
    message_id: int

    async def edit(self, context: Context, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Edit the pressed message in place."""
        await edit_message(context, self.chat_id, self.message_id, text, keyboard)


async def menu_press(update: Update, context: Context, *, register: bool = True) -> MenuPress | None:
    """The press, or None after answering a malformed one. `register=False` leaves an unknown person
    unknown (for /forget, which must not bring back what it deleted)."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return None
    press = decode_person(query.data)
    message = query.message
    if press is None or message is None:
        await query.answer(STALE)
        return None
    svc = services(context)
    if register:
        person = await svc.people.ensure_user(user.id, message.chat.id)
    else:
        found = await svc.people.get_user(user.id)
        person = found or UserView(user.id, message.chat.id, "UTC", {}, {}, None, None)
    await svc.my_foods.refresh(person.id, person.my_foods_version)
    return MenuPress(query, press, person, svc, message.chat.id, message.message_id)
