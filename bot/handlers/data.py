"""`/export` (all meals and items as CSV) and `/forget` (delete everything held about the person)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot.callbacks import Action
from bot.clock import now_of
from bot.handlers.common import Context, sender
from bot.handlers.presses import STALE, menu_press
from bot.keyboards import forget_keyboard
from meallog.export import meals_csv, my_foods_csv
from meallog.local_time import local_date_of

FORGET_ASK = (
    "⚠️ <b>Delete everything I hold about you?</b>\n"
    "Your {meals} meals and their foods, your photos' recognitions and the fixes you made, the {taught} "
    "examples you taught me, your own foods, your goals and settings. This can't be undone. (/export "
    "first if you want a copy.)"
)
FORGOTTEN = "🗑 Done: I deleted everything I held about you. If you write again, I'll start afresh."


async def on_export(update: Update, context: Context) -> None:
    """Send the person's meals and items as a CSV document."""
    who = await sender(update, context)
    if who is None:
        return
    person, svc = who.person, who.svc
    meals = await svc.account.all_meals(person.id)
    taught = await svc.memory.count(person.id)
    own = await svc.my_foods.foods(person.id)
    today = local_date_of(now_of(context), person.timezone)
    if own:
        await who.message.reply_document(
            my_foods_csv(own),
            filename=f"foodbot-my-foods-{today.isoformat()}.csv",
            caption=f"🥣 Your {len(own)} own food{'s' if len(own) != 1 else ''} (/myfoods), per 100 g.",
        )
    if not meals:
        await who.message.reply_text(f"There is nothing to export yet: no meals logged. {_taught(taught)}")
        return
    items = sum(len(meal.items) for meal in meals)
    await who.message.reply_document(
        meals_csv(meals, person.timezone),
        filename=f"foodbot-meals-{today.isoformat()}.csv",
        caption=(
            f"📄 {len(meals)} meals, {items} foods. Times in UTC and in {person.timezone}. {_taught(taught)}"
        ),
    )


def _taught(examples: int) -> str:
    """How much of the memory of corrections is the person's (each photo and food once)."""
    if examples == 0:
        return "You haven't taught me any foods yet: fix a food on a photo's card and save it."
    return f"🧠 You've taught me {examples} example{'s' if examples != 1 else ''} of your foods."


async def on_forget(update: Update, context: Context) -> None:
    """Ask for a confirmation before deleting everything."""
    who = await sender(update, context)
    if who is None:
        return
    meals = await who.svc.account.all_meals(who.person.id)
    taught = await who.svc.memory.count(who.person.id)
    await who.message.reply_text(
        FORGET_ASK.format(meals=len(meals), taught=taught),
        parse_mode=ParseMode.HTML,
        reply_markup=forget_keyboard(),
    )


async def on_forget_press(update: Update, context: Context) -> None:
    """The answer to /forget's question."""
    found = await menu_press(update, context, register=False)
    if found is None:
        return
    if found.press.action is Action.FORGET_YES:
        await found.svc.account.forget_user(found.person.id)
        await found.query.answer("Deleted.")
        await found.edit(context, FORGOTTEN)
    elif found.press.action is Action.FORGET_NO:
        await found.query.answer("Nothing deleted.")
        await found.edit(context, "Nothing deleted.")
    else:
        await found.query.answer(STALE)
