"""An edited message: the draft it made follows the edit, as people expect of a chat.

Telegram sends an edit as an update of its own. Treating it as a new message made a second meal;
instead, a typed meal's draft takes the edited foods, a photo's draft takes the edited caption as its
name and the foods it names in place of the ones the old caption named (the model's stay), and the card
is updated in place. A saved meal is not changed behind the person's back (they
change it from /history), and an edit of anything else gets a short note.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot.handlers.cards import card_view, edit_message, send_card
from bot.handlers.common import Context, sender
from bot.handlers.text import missing_note, typed_meal
from meallog.db.models import MealStatus
from meallog.store.items import MAX_ITEMS
from meallog.store.meals import TooManyItems

SAVED = "That meal is saved already, so your edit didn't change it. Change it from /history."
NOT_FOLLOWED = (
    "I saw your edit, but I only follow edits of a meal that is still open. "
    "Send it again as a new message if you want me to log it."
)


async def on_edit(update: Update, context: Context) -> None:
    """An edited text or caption: update the draft it made, and its card."""
    who = await sender(update, context)
    if who is None:
        return
    message, person, svc = who.message, who.person, who.svc
    meal = await svc.meals.from_message(person.id, message.message_id)
    if meal is None:
        await message.reply_text(NOT_FOLLOWED)
        return
    if meal.status != MealStatus.DRAFT:
        await message.reply_text(SAVED)
        return
    caption_of = None if message.text is not None else message.message_id
    typed = typed_meal(message.text or message.caption or "", who.table, caption_of=caption_of)
    if isinstance(typed, str):
        await message.reply_text(typed, parse_mode=ParseMode.HTML)
        return
    if (note := missing_note(typed.missing)) is not None:
        await message.reply_text(note, parse_mode=ParseMode.HTML)
    try:
        if caption_of is not None:  # a photo's caption: its name, and the foods it names
            updated = await svc.meals.set_caption(meal.id, person.id, message.caption)
            if updated is not None:
                updated = await svc.meals.replace_message_items(
                    meal.id, person.id, message.message_id, typed.items
                )
        elif meal.source_message_id == message.message_id:  # the meal this message made
            updated = await svc.meals.replace_items(meal.id, person.id, typed.items, meal.caption)
        else:  # the foods this message added to a meal that was open
            updated = await svc.meals.replace_message_items(
                meal.id, person.id, message.message_id, typed.items
            )
    except TooManyItems:
        await message.reply_text(f"A meal holds at most {MAX_ITEMS} foods, so your edit didn't change it.")
        return
    if updated is None:
        return
    if updated.card_chat_id is None or updated.card_message_id is None:
        await send_card(context, message.chat_id, updated, svc)
        return
    text, keyboard = card_view(updated, svc)
    await edit_message(context, updated.card_chat_id, updated.card_message_id, text, keyboard)
