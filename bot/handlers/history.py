"""`/week` (a chart of the last 7 days), `/history` (any day, with ◀ ▶), and reopening or moving a meal."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.callbacks import MOVES, Action
from bot.clock import now_of
from bot.handlers.cards import draft_card_refusal, retire_card, send_card
from bot.handlers.common import Context, Sender, sender
from bot.handlers.presses import ALREADY_DONE, STALE, menu_press
from bot.keyboards import back_keyboard, history_keyboard, parse_day_arg, when_keyboard
from bot.services import services
from meallog.charts import week_chart_png
from meallog.db.models import MealStatus
from meallog.goals import Goals
from meallog.local_time import local_date_of
from meallog.portions import Macros
from meallog.prompts import Prompt, PromptKind
from meallog.render import day_text
from meallog.store.meals import StaleCard
from meallog.store.views import MealView
from meallog.summary_times import parse_when
from meallog.text_fit import MAX_CAPTION, fit_html

GONE = "That meal is no longer there."
FUTURE = "That's in the future."
#: How far back /history goes.
HISTORY_DAYS = 366
WHEN_PROMPT = "🕒 Type when you ate it, like <i>13:30</i>, <i>yesterday 19:00</i> or <i>2025-05-04 12:00</i>."


def week_caption(days: Mapping[date, Macros], goals: Goals | None) -> str:
    """The numbers under the chart, a line per day and the average; within a photo caption's limit."""
    lines = ["📊 <b>Last 7 days</b>"]
    logged: list[float] = []
    for day, macros in sorted(days.items()):
        if macros.kcal > 0:
            logged.append(macros.kcal)
            lines.append(
                f"{day:%a %-d}: {macros.kcal:.0f} kcal · P {macros.protein_g:.0f} · "
                f"F {macros.fat_g:.0f} · C {macros.carbs_g:.0f} g"
            )
        else:
            lines.append(f"{day:%a %-d}: —")
    tail: list[str] = []
    if logged:
        average = sum(logged) / len(logged)
        goal = f" (goal {goals.kcal:.0f})" if goals else ""
        tail.append(f"Average of {len(logged)} logged days: <b>{average:.0f} kcal</b>{goal}")
    return fit_html(lines, MAX_CAPTION, tail=tail)


async def on_week(update: Update, context: Context) -> None:
    """The last 7 local days as a chart, with the numbers in the caption."""
    who = await sender(update, context)
    if who is None:
        return
    person, svc = who.person, who.svc
    today = local_date_of(now_of(context), person.timezone)
    days = await svc.account.day_totals(person.id, today - timedelta(days=6), today)
    goals = Goals.from_dict(person.goals)
    png = await asyncio.to_thread(week_chart_png, days, goals.kcal if goals else None)
    await who.message.reply_photo(png, caption=week_caption(days, goals), parse_mode=ParseMode.HTML)


async def _show_day(
    who_id: int, tz: str, day: date, today: date, context: Context, page: int = 0
) -> tuple[str, InlineKeyboardMarkup]:
    """A day in /history: page `page` of its meals (the last one if there are fewer now) and its buttons."""
    svc = services(context)
    meals = await svc.meals.meals_on(who_id, day)
    return day_text(day, meals, svc.table, tz, page), history_keyboard(day, today, meals, page)


async def on_history(update: Update, context: Context) -> None:
    """Today's meals with ◀ ▶ to other days, and a button to edit or delete each meal."""
    who = await sender(update, context)
    if who is None:
        return
    today = local_date_of(now_of(context), who.person.timezone)
    text, keyboard = await _show_day(who.person.id, who.person.timezone, today, today, context)
    await who.message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def on_history_press(update: Update, context: Context) -> None:
    """◀ ▶ in /history (and on a long /today): show another day, or another page of a day's meals."""
    found = await menu_press(update, context)
    if found is None:
        return
    today = local_date_of(now_of(context), found.person.timezone)
    shown = parse_day_arg(found.press.arg)
    if shown is None or shown[0] > today or (today - shown[0]).days > HISTORY_DAYS:
        await found.query.answer(STALE)
        return
    day, page = shown
    text, keyboard = await _show_day(found.person.id, found.person.timezone, day, today, context, page)
    await found.query.answer()
    await found.edit(context, text, keyboard)


async def on_meal_press(update: Update, context: Context) -> None:
    """Reopen a saved meal as a card; on a draft's card, its day and time."""
    found = await menu_press(update, context)
    if found is None:
        return
    press, svc, person = found.press, found.svc, found.person
    meal = await svc.meals.get_meal(press.meal_id, person.id)
    if meal is None:
        await found.query.answer(GONE)
        return
    if press.action is Action.REOPEN:
        if meal.status != MealStatus.SAVED:
            await found.query.answer(STALE)
            return
        draft = await svc.meals.reopen_meal(meal.id, person.id)
        if draft is None:
            await found.query.answer(GONE)
            return
        await found.query.answer("Change it, then Save. Discard keeps it as it was.")
        await send_card(context, found.chat_id, draft, svc)
        return
    refusal = draft_card_refusal(meal, found.message_id)
    if refusal is not None:
        await found.query.answer(refusal)
        return
    if press.action is Action.WHEN:
        await found.query.answer()
        await found.edit(context, _when_text(meal, person.timezone), when_keyboard(meal))
    elif press.action is Action.TYPE_TIME:
        await svc.people.set_pending(person.id, Prompt(PromptKind.MEAL_TIME, meal_id=meal.id))
        await found.query.answer()
        await found.edit(context, WHEN_PROMPT, back_keyboard(meal.id))
    elif press.action is Action.MOVE and press.arg in MOVES:
        days, minutes = MOVES[press.arg]
        zone = ZoneInfo(person.timezone)
        local = meal.eaten_at.astimezone(zone)
        wall = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)
        moved_to = wall + timedelta(minutes=minutes)
        if moved_to > now_of(context) + timedelta(minutes=1):
            await found.query.answer(FUTURE)
            return
        try:
            updated = await svc.meals.move_meal(meal.id, person.id, moved_to, version=press.version)
        except StaleCard:  # a double tap, or a press Telegram delivered twice: moved once
            await found.query.answer(ALREADY_DONE)
            await found.edit(context, _when_text(meal, person.timezone), when_keyboard(meal))
            return
        if updated is None:
            await found.query.answer(GONE)
            return
        await found.query.answer(f"Moved to {moved_to.astimezone(zone):%a %-d %b, %H:%M}.")
        await found.edit(context, _when_text(updated, person.timezone), when_keyboard(updated))
    else:
        await found.query.answer(STALE)


def _when_text(meal: MealView, tz: str) -> str:
    local = meal.eaten_at.astimezone(ZoneInfo(tz))
    return f"🕒 <b>When did you eat this?</b>\nNow: {local:%A %-d %B, %H:%M}"


async def answer_meal_time(who: Sender, context: Context) -> bool:
    """The typed day and time for a draft (after ⌨ in its day & time picker)."""
    svc, person = who.svc, who.person
    meal_id = person.pending.meal_id if person.pending is not None else None
    meal = await svc.meals.get_meal(meal_id or 0, person.id)
    if meal is None or meal.status != MealStatus.DRAFT:
        await svc.people.set_pending(person.id, None)
        return False
    now = now_of(context)
    try:
        when = parse_when(who.message.text or "", now, person.timezone, meal.eaten_at, HISTORY_DAYS)
    except ValueError as refused:  # summary_times.WhenError: a day further back than /history reaches
        await who.message.reply_text(f"{refused} {WHEN_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    if when is None:
        await who.message.reply_text(f"I didn't get that. {WHEN_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    if when > now + timedelta(minutes=1):
        await who.message.reply_text(f"{FUTURE} {WHEN_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    updated = await svc.meals.move_meal(meal.id, person.id, when)
    await svc.people.set_pending(person.id, None)
    if updated is None:
        await who.message.reply_text(GONE)
        return True
    local = when.astimezone(ZoneInfo(person.timezone))
    await retire_card(context, meal, f"🕒 Moved to {local:%a %-d %b, %H:%M} — the meal is below.")
    await send_card(context, who.message.chat_id, updated, svc)
    return True
