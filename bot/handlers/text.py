"""Typed text about meals: grams or a food name answering a card's prompt, or a quick entry like
"200 g rice". `bot.handlers.prompts` routes each text here or to the other prompts' answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from html import escape

from telegram import CallbackQuery
from telegram.constants import ParseMode

from bot.callbacks import Press, number_arg
from bot.clock import now_of
from bot.handlers.again import again_from_text
from bot.handlers.cards import (
    edit_message,
    record_card,
    remove_card,
    retire_card,
    send_card,
    send_missing_card,
)
from bot.handlers.common import Context, Sender, moved_on
from bot.journal import tried_before
from bot.keyboards import search_keyboard, split_keyboard
from bot.services import Services
from meallog.db.models import MealStatus
from meallog.meal_text import read_meal
from meallog.nutrition import NutritionTable
from meallog.portions import MAX_GRAMS
from meallog.prompts import Prompt, PromptKind
from meallog.quick_entry import QuickEntryError, parse_grams, parse_quick_entry, resolve_entry
from meallog.store.items import MAX_ITEMS
from meallog.store.views import MealView, NewItem
from meallog.text_fit import ECHO_CHARS, clip

_LOGGER = logging.getLogger(__name__)

NOT_UNDERSTOOD = (
    "I didn't catch a food there. Send a photo of your meal, or type something like "
    "<i>200 g rice</i> or <i>2 eggs</i>."
)
SEARCH_RESULTS = 6
#: A food typed within this long of the last change to an open meal joins it.
JOIN_WINDOW = timedelta(minutes=10)
ADDED = "➕ Added — the meal is below."
SPLIT_OFF = "✂️ Made a separate meal — its card is below."


async def _prompt_draft(who: Sender) -> MealView | None:
    """The draft the person's prompt is about; None (and the prompt dropped) when it is gone or saved."""
    prompt = who.person.pending
    meal = None
    if prompt is not None and prompt.meal_id:
        meal = await who.svc.meals.get_meal(prompt.meal_id, who.person.id)
    if meal is None or meal.status != MealStatus.DRAFT:
        await who.svc.people.set_pending(who.person.id, None)
        return None
    return meal


async def answer_grams(who: Sender, context: Context) -> bool:
    """Typed grams for a food of a draft (after ✏️ → grams); False when the draft is gone."""
    meal = await _prompt_draft(who)
    if meal is None or who.person.pending is None:
        return False
    message, svc, user_id = who.message, who.svc, who.person.id
    grams = parse_grams(message.text or "")
    if grams is None:
        if await moved_on(who):  # "2 eggs": a meal, not the grams asked for
            return False
        await message.reply_text(f"Please type the grams as a number between 1 and {MAX_GRAMS:g}, like 150.")
        return True
    updated = await svc.meals.set_item_grams(meal.id, who.person.pending.item_id or 0, user_id, grams)
    await svc.people.set_pending(user_id, None)
    if updated is None:
        await message.reply_text("That food is no longer on the meal.")
        return True
    await retire_card(context, meal, f"✏️ Changed to {grams:.0f} g — the meal is below.")
    await send_card(context, message.chat_id, updated, svc)
    return True


async def answer_search(who: Sender, context: Context) -> bool:
    """A typed food name to change a draft's food or add one (also typed over earlier results)."""
    meal = await _prompt_draft(who)
    if meal is None or who.person.pending is None:
        return False
    await _search(who, context, meal, who.person.pending.item_id or 0)
    return True


async def _search(who: Sender, context: Context, meal: MealView, item_id: int) -> None:
    message, svc, user_id, table = who.message, who.svc, who.person.id, who.table
    text = message.text or ""
    grams: float | None = None
    query = text
    entry = parse_quick_entry(text)
    if entry is not None:
        query = entry.food_query
        try:
            resolved = resolve_entry(entry, table)
        except QuickEntryError as exc:
            await message.reply_text(str(exc))
            return
        if resolved is not None and entry.amount is not None:
            grams = resolved.grams
    foods = table.search(query, limit=SEARCH_RESULTS)
    shown = escape(clip(query, ECHO_CHARS))
    if not foods:
        await message.reply_text(
            f"I don't know “{shown}”. Try another name, like <i>rice</i> or <i>apple</i>.",
            parse_mode=ParseMode.HTML,
        )
        return
    await svc.people.set_pending(
        user_id,
        Prompt(
            PromptKind.RESULTS,
            meal_id=meal.id,
            item_id=item_id,
            keys=tuple(f.key for f in foods),
            grams=grams,
        ),
    )
    await remove_card(context, meal, "🔎 Searching — pick a food below.")
    result = await context.bot.send_message(
        message.chat_id,
        f"Which one is “{shown}”?",
        parse_mode=ParseMode.HTML,
        reply_markup=search_keyboard(meal, item_id, foods),
    )
    await record_card(svc, meal.id, message.chat_id, result.message_id)


@dataclass(frozen=True, slots=True)
class TypedMeal:
    """The foods a typed text (or caption) names, and the phrases in it that named no food."""

    items: list[NewItem]
    missing: list[str]


def typed_meal(text: str, table: NutritionTable, *, caption_of: int | None = None) -> TypedMeal | str:
    """The foods a typed meal names ("chicken breast 150g and salad" is two), or what to tell the person
    when it names none or an amount cannot be logged (HTML).

    `caption_of`: the text is the caption of that photo message; a caption is read strictly (a title
    like "Lunch with Anna" names no food) and names no food without complaint.
    """
    read = read_meal(text, table, strict=caption_of is not None)
    if read.refusal is not None:
        return escape(read.refusal)
    if not read.foods and caption_of is None:
        return NOT_UNDERSTOOD
    items = [NewItem(f.food.key, f.grams, source="typed", message_id=caption_of) for f in read.foods]
    # A caption's other words are its title, not foods that were missed.
    missing = read.unknown if read.foods and caption_of is None else []
    return TypedMeal(items=items, missing=missing)


def missing_note(missing: Sequence[str]) -> str | None:
    """ "I didn't find “kimchi stew” …" for the phrases of a meal that named no food (HTML), or None."""
    if not missing:
        return None
    shown = ", ".join(f"“{escape(clip(phrase, ECHO_CHARS))}”" for phrase in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return (
        f"I didn't find {shown}{more}, so the card below has the rest. "
        "Tap ➕ on the card to add a food by name."
    )


async def quick_entry(who: Sender, context: Context) -> None:
    """Typed text that answers no prompt: a meal like "200 g rice" gets its card. Typed while another
    meal is open (a draft changed within `JOIN_WINDOW`), the food joins that meal instead: "coffee",
    then "croissant" a minute later, is one breakfast, not two meals. The message id goes with the food,
    so a retried message finds what it did instead of doing it twice."""
    message, svc, user_id = who.message, who.svc, who.person.id
    if await again_from_text(who, context):  # "same as yesterday", "again"
        return
    typed = typed_meal(message.text or "", who.table)
    if isinstance(typed, str):
        await message.reply_text(typed, parse_mode=ParseMode.HTML)
        return
    items = typed.items
    made = await svc.meals.from_message(user_id, message.message_id) if tried_before() else None
    if made is not None:  # handled before (the journal retried this update): its card, once
        await send_missing_card(context, message.chat_id, made, svc, message.message_id)
        return
    if (note := missing_note(typed.missing)) is not None:
        await message.reply_text(note, parse_mode=ParseMode.HTML)
    now = now_of(context)
    open_meal = await svc.meals.open_draft(user_id, since=now - JOIN_WINDOW)
    if open_meal is not None and len(open_meal.items) + len(items) <= MAX_ITEMS:
        joined = await svc.meals.add_items(open_meal.id, user_id, items, source_message_id=message.message_id)
        if joined is not None:  # typed while a meal is open: one meal, not a meal per food
            split = split_keyboard(open_meal.id, message.message_id)
            await retire_card(context, open_meal, ADDED, split)
            await send_card(context, message.chat_id, joined, svc)
            return
    meal = await svc.meals.start_draft(
        user_id,
        eaten_at=message.date.astimezone(UTC) if message.date else now,
        items=items,
        source_message_id=message.message_id,
    )
    await send_card(context, message.chat_id, meal, svc)


async def split_off(
    query: CallbackQuery, context: Context, svc: Services, user_id: int, press: Press
) -> None:
    """ "✂️ Make it a separate meal" under "➕ Added": the foods of that message leave the open meal
    for a draft of their own; both cards are shown anew. Pressed again, or once the meal is saved,
    it only says so."""
    message_id = number_arg(press.arg) or 0
    found = await svc.meals.split_message_items(press.meal_id, user_id, message_id)
    if found is None:
        await query.answer("That can't be split any more.")
        return
    rest, split = found
    await query.answer("Separate meal made.")
    assert query.message is not None
    chat_id = query.message.chat.id
    await edit_message(context, chat_id, query.message.message_id, SPLIT_OFF, None)
    await remove_card(context, rest, "➖ Changed — the meal is below.")
    await send_card(context, chat_id, rest, svc)
    await send_card(context, chat_id, split, svc)
