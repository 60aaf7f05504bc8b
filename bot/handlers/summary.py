"""`/summary`: today's summary now, as the evening one will look; and the text prompts of the menus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import ReplyKeyboardRemove, Update
from telegram.constants import ParseMode

from bot.handlers.common import Context, Sender, sender
from bot.handlers.goals import answer_body, answer_typed_goals
from bot.handlers.history import answer_meal_time
from bot.handlers.settings import answer_timezone
from bot.handlers.text import on_text
from bot.keyboards import CANCEL
from bot.schedule import now_of
from bot.services import services
from meallog.goals import Goals
from meallog.local_time import local_date_of
from meallog.summaries import nudge_text, summary_text

#: Pending prompt kind → its answer; an answer returns False when the text was not for it.
PROMPTS: dict[str, Callable[[Sender, Context], Awaitable[bool]]] = {
    "tz": answer_timezone,
    "goal_typed": answer_typed_goals,
    "goal_body": answer_body,
    "meal_time": answer_meal_time,
}


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


async def on_text_or_prompt(update: Update, context: Context) -> None:
    """Typed text: the answer to a menu's prompt (timezone, goals, a meal's time), else as before."""
    who = await sender(update, context)
    if who is None or not who.message.text:
        return
    if who.message.text.strip() == CANCEL:  # the reply keyboard's button, whatever prompt it was under
        await who.svc.people.set_pending(who.person.id, None)
        await who.message.reply_text("Okay, nothing changed.", reply_markup=ReplyKeyboardRemove())
        return
    answer = PROMPTS.get(str((who.person.pending or {}).get("kind")))
    if answer is not None and await answer(who, context):
        return
    await on_text(update, context)


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
