"""`/summary`: today's summary now, as the evening one will look; and noticing a person is back."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot.clock import now_of
from bot.handlers.common import Context, sender
from bot.services import services
from meallog.goals import Goals
from meallog.local_time import local_date_of
from meallog.summaries import nudge_text, summary_text


async def on_summary(update: Update, context: Context) -> None:
    """Today's summary so far."""
    who = await sender(update, context)
    if who is None:
        return
    person, svc = who.person, who.svc
    today = local_date_of(now_of(context), person.timezone)
    meals = await svc.meals.meals_on(person.id, today)
    text = (
        summary_text(today, meals, Goals.from_dict(person.goals), person.timezone)
        if meals
        else nudge_text(today)
    )
    await who.message.reply_text(text, parse_mode=ParseMode.HTML)


async def on_any_update(update: Update, context: Context) -> None:
    """Whatever a person sends means they have not blocked the bot (any more): summaries resume.

    Only a message or a press counts: a `my_chat_member` update may be the very news of a block. A photo
    is skipped here: its handler registers the sender (`sender()`), which clears a block anyway, and a
    burst of photos need not pay a second look-up each."""
    user = update.effective_user
    message = update.message
    if message is not None and (message.photo or message.document):
        return
    if user is not None and (update.effective_message is not None or update.callback_query is not None):
        await services(context).people.unblock(user.id)
