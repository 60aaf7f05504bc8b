"""Typed text: the answer to the person's open prompt if it is one, else a meal typed as text.

The one router for every prompt kind (`meallog.prompts.PromptKind`): each kind that takes typed text
has its answer here; an answer returns False when the text was not for it (the person moved on, or
the meal it was about is gone, or the text is plainly a meal and not the number asked for), and the
text is then read as a quick entry like "200 g rice". The kinds answered with buttons only (the goal
calculator's steps) leave typed text to quick entry too, and so does a prompt older than
`meallog.prompts.PROMPT_TTL`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import ReplyKeyboardRemove, Update

from bot.clock import now_of
from bot.handlers.common import Context, Sender, sender
from bot.handlers.goals import answer_body, answer_typed_goals
from bot.handlers.history import answer_meal_time
from bot.handlers.my_foods import answer_my_food
from bot.handlers.settings import answer_summary_time, answer_timezone
from bot.handlers.text import answer_grams, answer_search, quick_entry
from bot.keyboards import CANCEL
from meallog.prompts import PromptKind

Answer = Callable[[Sender, Context], Awaitable[bool]]

#: Prompt kind → the answer to typed text under it.
ANSWERS: dict[PromptKind, Answer] = {
    PromptKind.GRAMS: answer_grams,
    PromptKind.SEARCH: answer_search,
    PromptKind.RESULTS: answer_search,
    PromptKind.MEAL_TIME: answer_meal_time,
    PromptKind.TIMEZONE: answer_timezone,
    PromptKind.GOAL_TYPED: answer_typed_goals,
    PromptKind.GOAL_BODY: answer_body,
    PromptKind.SUMMARY_TIME: answer_summary_time,
    PromptKind.MY_FOOD: answer_my_food,
}


async def on_text_or_prompt(update: Update, context: Context) -> None:
    """Typed text: the open prompt's answer (grams, a food, a zone, goals, a meal's time), else a meal."""
    who = await sender(update, context)
    if who is None or not who.message.text:
        return
    if who.message.text.strip() == CANCEL:  # the reply keyboard's button, whatever prompt it was under
        await who.svc.people.set_pending(who.person.id, None)
        await who.message.reply_text("Okay, nothing changed.", reply_markup=ReplyKeyboardRemove())
        return
    prompt = who.person.pending
    if prompt is not None and prompt.expired(now_of(context)):  # asked long ago: this is something new
        await who.svc.people.set_pending(who.person.id, None)
        prompt = None
    answer = ANSWERS.get(prompt.kind) if prompt is not None else None
    if answer is not None and await answer(who, context):
        return
    await quick_entry(who, context)
