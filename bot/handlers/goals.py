"""`/goal`: daily kcal and protein/fat/carb targets, typed or computed (Mifflin-St Jeor, see meallog.goals).

The steps of the computation (sex, then typed age/height/weight, activity, aim) keep their answers in
the person's pending prompt in the database, so any bot process can take the next step.
"""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode

from bot.callbacks import Action
from bot.handlers.common import Context, Sender, moved_on, sender
from bot.handlers.presses import STALE, menu_press
from bot.keyboards import (
    activity_keyboard,
    aim_keyboard,
    goal_proposal_keyboard,
    goal_start_keyboard,
    sex_keyboard,
)
from meallog.goals import (
    ACTIVITY_FACTORS,
    ACTIVITY_NAMES,
    Activity,
    Aim,
    Body,
    Goals,
    Sex,
    compute_goals,
    mifflin_st_jeor,
    parse_body,
    parse_typed_goals,
)
from meallog.portions import macros_line
from meallog.prompts import Prompt, PromptKind

TYPE_HINT = (
    "Type your daily targets, like <i>2000</i> (kcal) or <i>2000 kcal, 120 protein, 70 fat, 230 carbs</i>, "
    "or let me compute them from your body and activity."
)
BODY_PROMPT = "Type your age, height in cm and weight in kg, like <i>34 180 75</i>."


def goals_line(goals: Goals) -> str:
    """The targets as /goal shows them: the common macros line with the kcal in bold."""
    return macros_line(goals, bold_kcal=True)


async def on_goal(update: Update, context: Context) -> None:
    """`/goal` alone: the current targets and how to change them; `/goal 2000 …`: set them at once."""
    who = await sender(update, context)
    if who is None:
        return
    typed = " ".join(context.args or []).strip()
    if typed:
        await _set_typed(who, typed)
        return
    current = Goals.from_dict(who.person.goals)
    head = f"🎯 Your daily goals: {goals_line(current)}\n\n" if current else "🎯 No daily goals yet.\n\n"
    await who.svc.people.set_pending(who.person.id, Prompt(PromptKind.GOAL_TYPED))
    await who.message.reply_text(
        head + TYPE_HINT, parse_mode=ParseMode.HTML, reply_markup=goal_start_keyboard(current is not None)
    )


async def _set_typed(who: Sender, text: str) -> bool:
    """Set typed targets; False when the text is not targets at all."""
    try:
        goals = parse_typed_goals(text)
    except ValueError as exc:
        await who.message.reply_text(f"{escape(str(exc))}. {TYPE_HINT}", parse_mode=ParseMode.HTML)
        return True
    if goals is None:
        await who.message.reply_text(f"I didn't get that. {TYPE_HINT}", parse_mode=ParseMode.HTML)
        return False
    await who.svc.people.set_goals(who.person.id, goals.as_dict())
    await who.svc.people.set_pending(who.person.id, None)
    await who.message.reply_text(f"🎯 Goals saved: {goals_line(goals)}", parse_mode=ParseMode.HTML)
    return True


async def answer_typed_goals(who: Sender, context: Context) -> bool:
    """Typed text after /goal: targets, or (anything else) the person moved on."""
    text = who.message.text or ""
    try:
        goals = parse_typed_goals(text)
    except ValueError as exc:
        await who.message.reply_text(f"{escape(str(exc))}. {TYPE_HINT}", parse_mode=ParseMode.HTML)
        return True
    if goals is None:
        await who.svc.people.set_pending(who.person.id, None)
        return False
    return await _set_typed(who, text)


async def answer_body(who: Sender, context: Context) -> bool:
    """Typed age, height and weight during the computation."""
    pending = who.person.pending
    text = who.message.text or ""
    try:
        body = parse_body(text, Sex(pending.sex if pending is not None and pending.sex else "f"))
    except ValueError as exc:
        await who.message.reply_text(f"{escape(str(exc))}. {BODY_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    if body is None:
        if await moved_on(who):
            return False
        await who.message.reply_text(f"Three numbers, please. {BODY_PROMPT}", parse_mode=ParseMode.HTML)
        return True
    await who.svc.people.set_pending(
        who.person.id,
        Prompt(
            PromptKind.GOAL_ACTIVITY,
            sex=body.sex.value,
            age=body.age,
            height_cm=body.height_cm,
            weight_kg=body.weight_kg,
        ),
    )
    await who.message.reply_text("🏃 How active are you?", reply_markup=activity_keyboard())
    return True


def _body(pending: Prompt) -> Body | None:
    if pending.sex is None or pending.age is None or pending.height_cm is None or pending.weight_kg is None:
        return None
    try:
        return Body(
            sex=Sex(pending.sex), age=pending.age, height_cm=pending.height_cm, weight_kg=pending.weight_kg
        )
    except ValueError:
        return None


async def on_goal_press(update: Update, context: Context) -> None:
    """A button of the /goal steps."""
    found = await menu_press(update, context)
    if found is None:
        return
    people, person, arg = found.svc.people, found.person, found.press.arg
    pending = person.pending
    kind = pending.kind if pending is not None else None
    step, _, value = arg.partition(".")
    if found.press.action is not Action.GOAL:
        await found.query.answer(STALE)
        return
    if step == "calc":
        await people.set_pending(person.id, Prompt(PromptKind.GOAL_SEX))
        await found.query.answer()
        await found.edit(
            context, "🧮 The equation (Mifflin-St Jeor) differs for men and women. You are:", sex_keyboard()
        )
    elif step == "sex" and value in {s.value for s in Sex}:
        await people.set_pending(person.id, Prompt(PromptKind.GOAL_BODY, sex=value))
        await found.query.answer()
        await found.edit(context, f"📏 {BODY_PROMPT}")
    elif step == "act" and value in {a.value for a in Activity} and kind is PromptKind.GOAL_ACTIVITY:
        assert pending is not None
        await people.set_pending(person.id, pending.then(PromptKind.GOAL_AIM, activity=value))
        await found.query.answer()
        await found.edit(context, "🎯 And your aim?", aim_keyboard())
    elif step == "aim" and value in {a.value for a in Aim} and kind is PromptKind.GOAL_AIM:
        assert pending is not None
        body = _body(pending)
        if body is None or pending.activity not in {a.value for a in Activity}:
            await found.query.answer(STALE)
            return
        activity = Activity(pending.activity)
        aim = Aim(value)
        goals = compute_goals(body, activity, aim)
        await people.set_pending(person.id, Prompt(PromptKind.GOAL_PROPOSAL, goals=goals.as_dict()))
        await found.query.answer()
        await found.edit(context, _proposal_text(body, activity, aim, goals), goal_proposal_keyboard())
    elif step == "save" and kind is PromptKind.GOAL_PROPOSAL:
        assert pending is not None
        goals_found = Goals.from_dict(dict(pending.goals or {}))
        if goals_found is None:
            await found.query.answer(STALE)
            return
        await people.set_goals(person.id, goals_found.as_dict())
        await people.set_pending(person.id, None)
        await found.query.answer("Goals saved.")
        await found.edit(context, f"🎯 Goals saved: {goals_line(goals_found)}")
    elif step == "cancel":
        await people.set_pending(person.id, None)
        await found.query.answer("Nothing changed.")
        await found.edit(context, "Nothing changed.")
    elif step == "clear":
        await people.set_goals(person.id, {})
        await people.set_pending(person.id, None)
        await found.query.answer("Goals cleared.")
        await found.edit(context, "🎯 Goals cleared. Set new ones any time with /goal.")
    else:
        await found.query.answer(STALE)


def _proposal_text(body: Body, activity: Activity, aim: Aim, goals: Goals) -> str:
    bmr = mifflin_st_jeor(body)
    factor = ACTIVITY_FACTORS[activity]
    aim_text = {
        Aim.LOSE: "to lose about 0.5 kg a week",
        Aim.KEEP: "to keep your weight",
        Aim.GAIN: "to gain",
    }[aim]
    return (
        "🧮 <b>Your daily goals</b>\n"
        f"Resting energy (Mifflin-St Jeor): {bmr:.0f} kcal\n"
        f"× {factor} for “{escape(ACTIVITY_NAMES[activity])}” = {bmr * factor:.0f} kcal\n"
        f"{aim_text.capitalize()}: {goals_line(goals)}\n\n"
        "Use these?"
    )
