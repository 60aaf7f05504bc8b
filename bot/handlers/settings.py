"""`/settings`: timezone (typed, or from a shared location), summary time, summaries on/off, empty days."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import ReplyKeyboardRemove, Update
from telegram.constants import ParseMode

from bot.callbacks import Action
from bot.clock import now_of
from bot.handlers.common import Context, Sender, moved_on, sender
from bot.handlers.presses import STALE, menu_press
from bot.keyboards import TYPE_TIME_ARG, hour_keyboard, location_keyboard, minute_keyboard, settings_keyboard
from meallog.goals import Goals
from meallog.portions import macros_line
from meallog.prompts import Prompt, PromptKind
from meallog.store.people import PeopleStore
from meallog.store.views import UserView
from meallog.summaries import EMPTY_DAY_KEY, empty_day_choice
from meallog.summary_times import minute_text, parse_clock, summary_time_text
from meallog.text_fit import ECHO_CHARS, clip
from meallog.timezones import abbreviation_note, resolve_timezone, suggest_timezones

_LOGGER = logging.getLogger(__name__)

TIME_PROMPT = "🕘 Type the time for your daily summary, like <i>21:40</i> or <i>7:05 pm</i>."
TZ_PROMPT = (
    "🌍 Type your timezone, like <i>Europe/Oslo</i> or a city like <i>Oslo</i>, or tap "
    "<b>📍 Share my location</b> below (on a computer: 📎 → Location): I look its zone up here, it goes "
    "nowhere else."
)


async def ask_timezone(context: Context, people: PeopleStore, person: UserView) -> None:
    """Wait for a timezone: the prompt, with a one-tap location button under the input field."""
    await people.set_pending(person.id, Prompt(PromptKind.TIMEZONE))
    await context.bot.send_message(
        person.chat_id, TZ_PROMPT, parse_mode=ParseMode.HTML, reply_markup=location_keyboard()
    )


@lru_cache(maxsize=1)
def _finder() -> Any:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def zone_at(latitude: float, longitude: float) -> str | None:
    """The IANA zone at a point, found offline (timezonefinder's polygons ship in its wheel)."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    zone = _finder().timezone_at(lat=latitude, lng=longitude)
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        return None
    return str(zone)


def settings_text(person: UserView, now: datetime) -> str:
    """The person's settings at a glance."""
    here = now.astimezone(ZoneInfo(person.timezone))
    summary = f"on, at {summary_time_text(person.summary_minute)}" if person.summaries_on else "off"
    empty = "a short nudge" if empty_day_choice(person.settings) == "nudge" else "nothing"
    goals = Goals.from_dict(person.goals)
    goal_line = macros_line(goals) if goals else "none yet"
    return (
        "⚙️ <b>Settings</b>\n"
        f"🌍 Timezone: {escape(person.timezone)} (it's {here:%H:%M} there)\n"
        f"🌙 Daily summary: {summary}\n"
        f"💬 On a day with nothing logged: {empty}\n"
        f"🎯 Goals: {goal_line} — change them with /goal"
    )


async def on_settings(update: Update, context: Context) -> None:
    """Show the settings with buttons to change them."""
    who = await sender(update, context)
    if who is None:
        return
    await who.message.reply_text(
        settings_text(who.person, now_of(context)),
        parse_mode=ParseMode.HTML,
        reply_markup=settings_keyboard(who.person.summaries_on, empty_day_choice(who.person.settings)),
    )


async def on_settings_press(update: Update, context: Context) -> None:
    """A settings button: open a step, or change a setting and show the settings again."""
    found = await menu_press(update, context)
    if found is None:
        return
    press, people = found.press, found.svc.people
    person = found.person
    now = now_of(context)
    toast: str | None = None
    if press.action is Action.SETTINGS and press.arg == "tz":
        await found.query.answer()
        await ask_timezone(context, people, person)
        return
    if press.action is Action.SETTINGS and press.arg == "time":
        await found.query.answer()
        await found.edit(
            context,
            f"🕘 When should your daily summary come? Now {minute_text(person.summary_minute)}. The hour:",
            hour_keyboard(),
        )
        return
    if press.action is Action.SETTINGS and press.arg == TYPE_TIME_ARG:
        await people.set_pending(person.id, Prompt(PromptKind.SUMMARY_TIME))
        await found.query.answer()
        await found.edit(context, TIME_PROMPT)
        return
    if press.action is Action.SUMMARY_HOUR:
        hour = int(press.arg) if press.arg.isdigit() else -1
        if not 0 <= hour < 24:
            await found.query.answer(STALE)
            return
        await found.query.answer()
        await found.edit(context, f"🕘 And the minutes, after {hour:02d}:", minute_keyboard(hour))
        return
    if press.action is Action.SUMMARY_TIME:
        arg = press.arg
        if len(arg) != 4 or not arg.isdigit() or int(arg[:2]) > 23 or int(arg[2:]) > 59:
            await found.query.answer(STALE)
            return
        minute = int(arg[:2]) * 60 + int(arg[2:])
        updated = await people.set_summary(person.id, now, minute=minute, on=True)
        person = updated or person
        toast = f"Daily summary at {summary_time_text(minute)}."
    elif press.action is Action.SETTINGS and press.arg in ("on", "off"):
        updated = await people.set_summary(person.id, now, on=press.arg == "on")
        person = updated or person
        toast = "Daily summaries on." if press.arg == "on" else "Daily summaries off."
    elif press.action is Action.SETTINGS and press.arg in ("nudge", "silent"):
        updated = await people.update_settings(person.id, {EMPTY_DAY_KEY: press.arg})
        person = updated or person
        toast = "Saved."
    elif not (press.action is Action.SETTINGS and press.arg == "back"):
        await found.query.answer(STALE)
        return
    await found.query.answer(toast)
    await found.edit(
        context,
        settings_text(person, now),
        settings_keyboard(person.summaries_on, empty_day_choice(person.settings)),
    )


async def _set_zone(who: Sender, context: Context, zone: str, how: str) -> None:
    person = await who.svc.people.set_timezone(who.person.id, zone)
    await who.svc.people.set_pending(person.id, None)
    here = now_of(context).astimezone(ZoneInfo(zone))
    await who.message.reply_text(
        f"🌍 Timezone set to {escape(zone)}{how}. It's {here:%H:%M} there; your daily summary comes at "
        f"{summary_time_text(person.summary_minute)}.",
        parse_mode=ParseMode.HTML,
        reply_markup=ReplyKeyboardRemove(),
    )


async def answer_summary_time(who: Sender, context: Context) -> bool:
    """The typed time of the daily summary, any minute ("21:40", "7:05 pm"). False (the prompt dropped)
    for text that is plainly a meal."""
    text = (who.message.text or "").strip()
    minute = parse_clock(text)
    if minute is None:
        if await moved_on(who):
            return False
        await who.message.reply_text(f"I didn't get that time. {TIME_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    await who.svc.people.set_summary(who.person.id, now_of(context), minute=minute, on=True)
    await who.svc.people.set_pending(who.person.id, None)
    await who.message.reply_text(f"🕘 Daily summary at {summary_time_text(minute)}.")
    return True


async def answer_timezone(who: Sender, context: Context) -> bool:
    """The typed answer to the timezone prompt. False (the prompt dropped) for text that is no zone
    and looks like a meal instead."""
    text = (who.message.text or "").strip()
    zone = resolve_timezone(text)
    if zone is not None:
        await _set_zone(who, context, zone, abbreviation_note(text))
        return True
    if await moved_on(who):
        # The location button must not linger under a meal card (which can only carry inline buttons).
        await who.message.reply_text(
            "Timezone unchanged; that looks like a meal, so here it is:", reply_markup=ReplyKeyboardRemove()
        )
        return False
    ideas = suggest_timezones(text)
    hint = f" Did you mean {', '.join(ideas)}?" if ideas else ""
    shown = escape(clip(text, ECHO_CHARS))
    await who.message.reply_text(
        f"I don't know the timezone “{shown}”.{hint} Try a name like Europe/Oslo, or share your location.",
        parse_mode=ParseMode.HTML,
    )
    return True


async def on_location(update: Update, context: Context) -> None:
    """A shared location: set the timezone there (resolved offline)."""
    who = await sender(update, context)
    if who is None or who.message.location is None:
        return
    location = who.message.location
    zone = await asyncio.to_thread(zone_at, location.latitude, location.longitude)
    if zone is None:
        await who.message.reply_text(
            "I couldn't tell the timezone there. Type it instead, like /timezone Europe/Oslo."
        )
        return
    await _set_zone(who, context, zone, " from your location")
