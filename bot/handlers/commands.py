"""Slash commands: /start, /help, /today, /undo, /timezone."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from telegram import BotCommand, Update
from telegram.constants import ParseMode

from bot.callbacks import Action
from bot.clock import now_of
from bot.handlers.common import Context, sender
from bot.handlers.settings import ask_timezone, reply_timezone
from bot.keyboards import confirm_keyboard, day_keyboard
from meallog.local_time import local_date_of
from meallog.portions import macros_line
from meallog.render import day_text, drafts_note
from meallog.text_fit import MAX_TEXT

COMMANDS = [
    BotCommand("today", "today's meals and totals"),
    BotCommand("undo", "delete the last saved meal"),
    BotCommand("again", "log a meal you had before, with one tap"),
    BotCommand("myfoods", "your own foods: add a recipe or product"),
    BotCommand("timezone", "set your timezone: a city or e.g. Europe/Oslo"),
    BotCommand("summary", "today's summary so far"),
    BotCommand("week", "the last 7 days as a chart"),
    BotCommand("history", "look back day by day, edit a meal"),
    BotCommand("goal", "daily kcal and macro targets"),
    BotCommand("settings", "timezone, daily summary time, on/off"),
    BotCommand("export", "all your meals as a CSV file"),
    BotCommand("forget", "delete everything the bot holds about you"),
    BotCommand("help", "how to use the bot"),
]

ONBOARDING = (
    "Two things make the numbers yours: where your day starts, so meals land on the right day and the "
    "evening summary comes at your evening (asked below), and daily targets: /goal when you like."
)
HELP = (
    "📸 Send me a photo of your meal and I'll list the foods with portions and calories.\n"
    "✏️ Fix anything with the buttons, then tap <b>Save</b>.\n"
    "⌨️ Or type what you ate, like <i>200 g rice</i> or <i>2 eggs</i>.\n\n"
    "/today — today's meals and totals\n"
    "/undo — delete the last saved meal\n"
    "/again — log a meal you had before with one tap (or type <i>same as yesterday</i>)\n"
    "/myfoods — your own foods: a recipe or product no search finds\n"
    "/timezone Oslo (your city, or Europe/Oslo) — so that your days start at your midnight\n"
    "/summary — today so far; every evening (21:00 unless you change it) I send it by myself\n"
    "/week — the last 7 days as a chart · /history — any day; edit or move a meal\n"
    "/goal — daily targets, typed or computed from your body and activity\n"
    "/settings — timezone, summary time, summaries on or off\n"
    "/export — all your meals as a CSV file · /forget — delete everything I hold about you"
)


async def on_start(update: Update, context: Context) -> None:
    """Greet, register the person, explain what to do; someone whose days still run on UTC is asked
    for their timezone (with the location button) and offered /goal."""
    who = await sender(update, context)
    if who is None or update.effective_user is None:
        return
    name = escape(update.effective_user.first_name)
    await who.message.reply_text(f"Hi {name}! 👋\n\n{HELP}", parse_mode=ParseMode.HTML)
    if who.person.timezone == "UTC":
        await who.message.reply_text(ONBOARDING, parse_mode=ParseMode.HTML)
        await ask_timezone(context, who.svc.people, who.person)


async def on_help(update: Update, context: Context) -> None:
    """The short manual."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(HELP, parse_mode=ParseMode.HTML)


async def on_today(update: Update, context: Context) -> None:
    """The saved meals of the person's local day, with totals and delete buttons; a long day's first page."""
    who = await sender(update, context)
    if who is None:
        return
    message, person, svc = who.message, who.person, who.svc
    day = local_date_of(now_of(context), person.timezone)
    meals = await svc.meals.meals_on(person.id, day)
    text = day_text(day, meals, svc.table, person.timezone)
    note = drafts_note(await svc.meals.drafts_on(person.id, day))
    if len(text) + len(note) <= MAX_TEXT:  # a very long day keeps its list; the cards remind anyway
        text += note
    await message.reply_text(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=day_keyboard(meals),
    )


async def on_undo(update: Update, context: Context) -> None:
    """Offer to delete the last saved meal (after a confirmation)."""
    who = await sender(update, context)
    if who is None:
        return
    message, person, svc = who.message, who.person, who.svc
    meal = await svc.meals.last_saved(person.id)
    if meal is None:
        await message.reply_text("There is no saved meal to undo.")
        return
    when = meal.eaten_at.astimezone(ZoneInfo(person.timezone))
    names = ", ".join(escape(i.name) for i in meal.items) or "no foods"
    await message.reply_text(
        f"Delete your last meal ({when:%a %H:%M}: {names})?\n{macros_line(meal.total)}",
        parse_mode=ParseMode.HTML,
        reply_markup=confirm_keyboard(Action.UNDO_YES, meal.id, "🗑 Yes, delete it"),
    )


async def on_timezone(update: Update, context: Context) -> None:
    """`/timezone NAME`: set the zone that decides where the person's days begin (NAME may be a city)."""
    who = await sender(update, context)
    if who is None:
        return
    message, person, svc = who.message, who.person, who.svc
    text = " ".join(context.args or []).strip()
    if not text:
        await message.reply_text(f"Your timezone is {person.timezone}.")
        await ask_timezone(context, svc.people, person)
        return
    await reply_timezone(who, context, text, prompted=False)


async def on_unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            f"I don't know that command.\n\n{HELP}", parse_mode=ParseMode.HTML
        )
