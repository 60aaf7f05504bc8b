"""`/settings`: timezone (typed, or from a shared location), summary time, summaries on/off, empty days."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode

from bot.callbacks import Action, encode_person, number_arg
from bot.clock import now_of
from bot.handlers.common import Context, Sender, moved_on, sender
from bot.handlers.presses import STALE, menu_press
from bot.keyboards import TYPE_TIME_ARG, hour_keyboard, location_keyboard, minute_keyboard, settings_keyboard
from meallog.goals import Goals
from meallog.places import Place, label, naming, place_by_id
from meallog.portions import macros_line
from meallog.prompts import Prompt, PromptKind
from meallog.store.people import PeopleStore
from meallog.store.views import UserView
from meallog.summaries import EMPTY_DAY_KEY, empty_day_choice
from meallog.summary_times import minute_text, parse_clock, summary_time_text
from meallog.text_fit import ECHO_CHARS, clip
from meallog.timezones import TimezoneReading, read_timezone

_LOGGER = logging.getLogger(__name__)

TIME_PROMPT = "🕘 Type the time for your daily summary, like <i>21:40</i> or <i>7:05 pm</i>."
TZ_PROMPT = (
    "🌍 Type your timezone or just your city, like <i>Europe/Oslo</i>, <i>San Francisco</i> or "
    "<i>München</i>, or tap <b>📍 Share my location</b> below (on a computer: 📎 → Location): I look its "
    "zone up here, it goes nowhere else."
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
    if press.action is Action.TIMEZONE_PLACE:
        place = place_by_id(place_id) if (place_id := number_arg(press.arg)) is not None else None
        if place is None:
            await found.query.answer(STALE)
            return
        await found.query.answer(f"Timezone: {place.zone}")
        await found.edit(context, f"🌍 {escape(label(place))}")
        await _set_zone(context, person, people, place.zone, f" ({escape(label(place))})")
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
        hour = -1 if (number := number_arg(press.arg)) is None else number
        if not 0 <= hour < 24:
            await found.query.answer(STALE)
            return
        await found.query.answer()
        await found.edit(context, f"🕘 And the minutes, after {hour:02d}:", minute_keyboard(hour))
        return
    if press.action is Action.SUMMARY_TIME:
        arg = press.arg
        if len(arg) != 4 or number_arg(arg) is None or int(arg[:2]) > 23 or int(arg[2:]) > 59:
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


async def _set_zone(
    context: Context, person: UserView, people: PeopleStore, zone: str, how: str, after: str = ""
) -> None:
    """Store the zone and say so, with the time there; closes an open timezone prompt and takes its
    location button away (a reply keyboard goes only with a new message)."""
    updated = await people.set_timezone(person.id, zone)
    if person.pending is not None and person.pending.kind is PromptKind.TIMEZONE:
        await people.set_pending(person.id, None)
    here = now_of(context).astimezone(ZoneInfo(zone))
    await context.bot.send_message(
        person.chat_id,
        f"🌍 Timezone set to {escape(zone)}{how}. It's {here:%H:%M} there; your daily summary comes at "
        f"{summary_time_text(updated.summary_minute)}.{after}",
        parse_mode=ParseMode.HTML,
        reply_markup=ReplyKeyboardRemove(),
    )


def _place_button(place: Place, area: bool, now: datetime) -> InlineKeyboardButton:
    """One place to pick, with the time there now: the surest way to tell a timezone by."""
    here = now.astimezone(ZoneInfo(place.zone))
    text = f"{place.name} · {place.zone}" if area else label(place)
    return InlineKeyboardButton(
        f"{text} · {here:%H:%M}", callback_data=encode_person(Action.TIMEZONE_PLACE, str(place.id))
    )


def places_keyboard(places: tuple[Place, ...], now: datetime, *, area: bool = False) -> InlineKeyboardMarkup:
    """A button per place, one a row (the labels are long)."""
    return InlineKeyboardMarkup([[_place_button(place, area, now)] for place in places])


def _other_place_hint(reading: TimezoneReading) -> str:
    """ "Another Paris? Type “Paris, Texas”." under a zone taken from a city that has namesakes elsewhere."""
    if reading.elsewhere is None:
        return ""
    other = reading.elsewhere
    return f"\nAnother {escape(other.name)}? Type “{escape(naming(other))}”."


async def _ask_place(who: Sender, context: Context, reading: TimezoneReading) -> None:
    """Same-named places in different clocks, or an area's zones: ask with a button each."""
    city = escape(reading.city)
    if reading.area:
        text = f"🌍 {city} has more than one timezone. Which is yours? Or type your city."
    elif reading.missed:
        text = (
            f"🌍 I know no {city} in {escape(clip(reading.missed, ECHO_CHARS))}. Is it one of these? "
            "Or type a bigger place near you."
        )
    else:
        example = escape(naming(reading.choices[-1]))
        text = f"🌍 Which {city}? Tap it, or type it with its state or country, like “{example}”."
    await who.message.reply_text(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=places_keyboard(reading.choices, now_of(context), area=reading.area),
    )


async def _unknown_zone(who: Sender, context: Context, text: str, reading: TimezoneReading) -> None:
    """Nothing fits: say so, with the likeliest ideas (places as buttons too), and how else to answer."""
    ideas = [escape(zone) for zone in reading.zones]
    ideas += [f"{escape(label(place))} ({escape(place.zone)})" for place in reading.places]
    hint = f" Did you mean {', '.join(ideas)}?" if ideas else ""
    shown = escape(clip(text, ECHO_CHARS))
    await who.message.reply_text(
        f"I don't know the timezone “{shown}”.{hint} Try your city, like Oslo, a name like Europe/Oslo, or "
        "share your location.",
        parse_mode=ParseMode.HTML,
        reply_markup=places_keyboard(reading.places, now_of(context)) if reading.places else None,
    )


async def reply_timezone(who: Sender, context: Context, text: str, *, prompted: bool) -> bool:
    """Set the zone `text` names (a zone, a country, a city), ask which place it means, or say what
    was not understood. Under the timezone prompt (`prompted`), text that names no zone outright and is
    plainly a meal ("2 eggs", "orange") drops the prompt instead: False, and the router logs the meal."""
    # In a thread: the first lookup of a process reads the gazetteer (about half a second).
    reading = await asyncio.to_thread(read_timezone, text)
    if reading.zone is not None and reading.place is None:
        await _set_zone(context, who.person, who.svc.people, reading.zone, reading.note)
        return True
    if prompted and await moved_on(who):
        # The location button must not linger under a meal card (which can only carry inline buttons).
        await who.message.reply_text(
            "Timezone unchanged; that looks like a meal, so here it is:", reply_markup=ReplyKeyboardRemove()
        )
        return False
    if reading.zone is not None:
        how = f" ({escape(reading.where)})" if reading.where else ""
        await _set_zone(context, who.person, who.svc.people, reading.zone, how, _other_place_hint(reading))
    elif reading.choices:
        await _ask_place(who, context, reading)
    else:
        await _unknown_zone(who, context, text, reading)
    return True


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
    return await reply_timezone(who, context, (who.message.text or "").strip(), prompted=True)


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
    await _set_zone(context, who.person, who.svc.people, zone, " from your location")
