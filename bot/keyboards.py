"""Keyboards for the meal card and its prompts. Inline buttons carry ids only (see bot.callbacks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.callbacks import MOVE_ROWS, PORTIONS, Action, encode, encode_person
from meallog.again import Choice, Origin, choice_label, star_label
from meallog.goals import ACTIVITY_NAMES, Activity
from meallog.nutrition import Food
from meallog.render import day_page
from meallog.store.views import ItemView, MealView
from meallog.text_fit import Page

#: How many of the model's other guesses an item's options offer.
ALTERNATIVES_SHOWN = 3


#: The reply-keyboard buttons under the timezone prompt (their texts come back as the person's message).
SHARE_LOCATION = "📍 Share my location"
CANCEL = "Cancel"


def location_keyboard() -> ReplyKeyboardMarkup:
    """One tap to share the location the timezone is looked up from (phones only), or to cancel.

    A reply keyboard, not an inline one: only a reply keyboard button can ask the app for the location.
    """
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_LOCATION, request_location=True)], [KeyboardButton(CANCEL)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="Europe/Oslo, or a city",
    )


def _button(
    text: str, action: Action, meal_id: int, item_id: int = 0, arg: str = "", version: int | None = None
) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(action, meal_id, item_id, arg, version))


def _times(portions: float, current: bool) -> str:
    """A portion button's label, `½×`, `1×`, `1½×` or `2×` (whole numbers and halves), `✓` on the one the
    item is at now."""
    label = f"{int(portions) or ''}{'½' if portions % 1 else ''}×"
    return f"✓ {label}" if current else label


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def card_keyboard(meal: MealView) -> InlineKeyboardMarkup:
    """A draft's card: one row per food (open its options, or remove it), then add, save, discard.

    The buttons carry the draft's version, so a double tap applies once."""
    v = meal.version
    rows = [
        [
            _button(f"✏️ {n}. {_short(item.name)}", Action.ITEM, meal.id, item.id, version=v),
            _button("✖", Action.REMOVE, meal.id, item.id, version=v),
        ]
        for n, item in enumerate(meal.items, 1)
    ]
    rows.append(
        [
            _button("➕ Add food", Action.ADD, meal.id, version=v),
            _button("🕒 Day & time", Action.WHEN, meal.id, version=v),
        ]
    )
    last = [_button("🗑 Discard", Action.DISCARD, meal.id, version=v)]
    if meal.items:
        last.insert(0, _button("✅ Save", Action.SAVE, meal.id, version=v))
    rows.append(last)
    return InlineKeyboardMarkup(rows)


def alternatives(meal: MealView, item: ItemView) -> list[tuple[int, str]]:
    """The model's other guesses for this photo as (index in the prediction, food key), best first."""
    if meal.prediction is None or item.source == "typed":
        return []
    taken = {i.food_key for i in meal.items}
    found = [(n, key) for n, (key, _conf) in enumerate(meal.prediction.foods) if key not in taken]
    return found[:ALTERNATIVES_SHOWN]


def item_keyboard(
    meal: MealView, item: ItemView, name_of: Callable[[str], str], portion_g: float | None = None
) -> InlineKeyboardMarkup:
    """One item's options: the model's alternatives, search, portions (of the food's default `portion_g`,
    the current count marked), typed grams, remove, back."""
    v = meal.version
    rows = [
        [_button(f"↔ {_short(name_of(key), 30)}", Action.ALTERNATIVE, meal.id, item.id, str(n), v)]
        for n, key in alternatives(meal, item)
    ]
    rows.append([_button("🔎 Search…", Action.SEARCH, meal.id, item.id, version=v)])
    rows.append(
        [
            *(
                _button(
                    _times(count, portion_g is not None and abs(item.grams - count * portion_g) < 0.5),
                    Action.SCALE,
                    meal.id,
                    item.id,
                    code,
                    v,
                )
                for code, count in PORTIONS.items()
            ),
            _button("⌨ grams", Action.GRAMS, meal.id, item.id, version=v),
        ]
    )
    rows.append(
        [
            _button("🗑 Remove", Action.REMOVE, meal.id, item.id, version=v),
            _button("« Back", Action.CARD, meal.id),
        ]
    )
    return InlineKeyboardMarkup(rows)


def search_keyboard(meal: MealView, item_id: int, foods: Sequence[Food]) -> InlineKeyboardMarkup:
    """Search results to pick from (their keys are kept in the person's pending prompt)."""
    rows = [
        [
            _button(
                f"{food.name} ({food.kcal:.0f} kcal/100 g)",
                Action.PICK,
                meal.id,
                item_id,
                str(n),
                meal.version,
            )
        ]
        for n, food in enumerate(foods)
    ]
    rows.append([_button("« Back to the meal", Action.CARD, meal.id)])
    return InlineKeyboardMarkup(rows)


def back_keyboard(meal_id: int) -> InlineKeyboardMarkup:
    """While a prompt waits for typed text: a way back to the card."""
    return InlineKeyboardMarkup([[_button("« Back to the meal", Action.CARD, meal_id)]])


def day_keyboard(meals: Sequence[MealView], page: int = 0) -> InlineKeyboardMarkup | None:
    """`/today`: a delete button per meal of the page, and ◀ ▶ to the other pages of a long day.

    The page buttons are /history's, so they turn the message into /history's view of the same day (the
    same delete buttons, with edit buttons and the other days besides): every meal stays reachable.
    """
    if not meals:
        return None
    shown = day_page(meals, page)
    rows = [
        [_button(f"🗑 Delete meal {n + 1}", Action.DELETE, meals[n].id)]
        for n in range(shown.start, shown.stop)
    ]
    rows += _page_row(meals[0].local_date, meals, shown)
    return InlineKeyboardMarkup(rows)


def day_arg(day: date, page: int = 0) -> str:
    """/history's button arg: the local day as YYYYMMDD, and after a dot the page of its meals if not the
    first (at most 16 characters, as `bot.callbacks` allows)."""
    return f"{day:%Y%m%d}.{page}" if page else f"{day:%Y%m%d}"


def parse_day_arg(arg: str) -> tuple[date, int] | None:
    """The day and page of a /history button's arg (see `day_arg`), or None for a malformed one."""
    day_part, _, page_part = arg.partition(".")
    try:
        day = datetime.strptime(day_part, "%Y%m%d").date()
    except ValueError:
        return None
    if page_part and not (page_part.isdigit() and len(page_part) <= 3):
        return None
    return day, int(page_part or 0)


def _page_row(day: date, meals: Sequence[MealView], shown: Page) -> list[list[InlineKeyboardButton]]:
    """◀ ▶ between the pages of a long day's meals; nothing for a day that fits one page."""
    row: list[InlineKeyboardButton] = []
    if shown.number > 0:
        before = day_page(meals, shown.number - 1)
        label = f"◀ Meals {before.start + 1}–{before.stop}"
        row.append(_person(label, Action.HISTORY, day_arg(day, before.number)))
    if shown.number < shown.pages - 1:
        after = day_page(meals, shown.number + 1)
        label = f"Meals {after.start + 1}–{after.stop} ▶"
        row.append(_person(label, Action.HISTORY, day_arg(day, after.number)))
    return [row] if row else []


#: A Cancel button's argument when the question replaced a day's list, which Cancel brings back.
BACK_TO_DAY = "day"


def confirm_keyboard(yes: Action, meal_id: int, yes_text: str, cancel_arg: str = "") -> InlineKeyboardMarkup:
    """A yes/cancel pair for deleting and undoing; with `BACK_TO_DAY` Cancel shows the day again."""
    return InlineKeyboardMarkup(
        [[_button(yes_text, yes, meal_id), _button("Cancel", Action.CANCEL, meal_id, arg=cancel_arg)]]
    )


def _person(text: str, action: Action, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode_person(action, arg))


def history_keyboard(
    day: date, today: date, meals: Sequence[MealView], page: int = 0
) -> InlineKeyboardMarkup:
    """`/history`: edit or delete each meal of the page, ◀ ▶ to the day's other pages, then ◀ the day
    before, today, the day after ▶."""
    shown = day_page(meals, page)
    rows = [
        [
            _button(f"✏️ Edit meal {n + 1}", Action.REOPEN, meals[n].id),
            _button(f"🗑 Delete meal {n + 1}", Action.DELETE, meals[n].id),
        ]
        for n in range(shown.start, shown.stop)
    ]
    rows += _page_row(day, meals, shown)
    before = day - timedelta(days=1)
    nav = [_person(f"◀ {before:%a %-d}", Action.HISTORY, day_arg(before))]
    if day < today:
        after = day + timedelta(days=1)
        if after < today:
            nav.append(_person("Today", Action.HISTORY, day_arg(today)))
        nav.append(_person(f"{after:%a %-d} ▶", Action.HISTORY, day_arg(after)))
    rows.append(nav)
    return InlineKeyboardMarkup(rows)


def when_keyboard(meal: MealView) -> InlineKeyboardMarkup:
    """A draft's day and time: a day back or forward, an hour or a quarter, or type it."""
    meal_id, v = meal.id, meal.version
    return InlineKeyboardMarkup(
        [
            *([_button(m.label, Action.MOVE, meal_id, 0, m.code, v) for m in row] for row in MOVE_ROWS),
            [_button("⌨ Type a day and time", Action.TYPE_TIME, meal_id)],
            [_button("« Back to the meal", Action.CARD, meal_id)],
        ]
    )


def settings_keyboard(summaries_on: bool, empty_day: str) -> InlineKeyboardMarkup:
    """`/settings`: timezone, summary time, summaries on/off, what an empty day gets."""
    return InlineKeyboardMarkup(
        [
            [
                _person("🌍 Timezone", Action.SETTINGS, "tz"),
                _person("🕘 Summary time", Action.SETTINGS, "time"),
            ],
            [
                _person("🔕 Turn summaries off", Action.SETTINGS, "off")
                if summaries_on
                else _person("🔔 Turn summaries on", Action.SETTINGS, "on")
            ],
            [
                _person("💬 Empty days: say nothing", Action.SETTINGS, "silent")
                if empty_day == "nudge"
                else _person("💬 Empty days: nudge me", Action.SETTINGS, "nudge")
            ],
        ]
    )


#: The settings button that asks for the summary time typed.
TYPE_TIME_ARG = "typetime"


def hour_keyboard() -> InlineKeyboardMarkup:
    """Summary time, first step: the hour (6 a row)."""
    rows = [
        [_person(f"{hour:02d}", Action.SUMMARY_HOUR, f"{hour:02d}") for hour in range(start, start + 6)]
        for start in range(0, 24, 6)
    ]
    rows.append([_person("⌨ Type a time", Action.SETTINGS, TYPE_TIME_ARG)])
    rows.append([_person("« Back", Action.SETTINGS, "back")])
    return InlineKeyboardMarkup(rows)


def minute_keyboard(hour: int) -> InlineKeyboardMarkup:
    """Summary time, second step: the minutes of the chosen hour."""
    return InlineKeyboardMarkup(
        [
            [
                _person(f"{hour:02d}:{minute:02d}", Action.SUMMARY_TIME, f"{hour:02d}{minute:02d}")
                for minute in (0, 15, 30, 45)
            ],
            [_person("« Back", Action.SETTINGS, "time")],
        ]
    )


def goal_start_keyboard(has_goals: bool) -> InlineKeyboardMarkup:
    """`/goal`: compute the targets, or clear them."""
    rows = [[_person("🧮 Compute them for me", Action.GOAL, "calc")]]
    if has_goals:
        rows.append([_person("🗑 Clear my goals", Action.GOAL, "clear")])
    return InlineKeyboardMarkup(rows)


def sex_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_person("♂ Male", Action.GOAL, "sex.m"), _person("♀ Female", Action.GOAL, "sex.f")]]
    )


def activity_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_person(ACTIVITY_NAMES[level], Action.GOAL, f"act.{level.value}")] for level in Activity]
    )


def aim_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _person("⬇ Lose weight", Action.GOAL, "aim.lose"),
                _person("⏺ Keep", Action.GOAL, "aim.keep"),
                _person("⬆ Gain", Action.GOAL, "aim.gain"),
            ]
        ]
    )


def goal_proposal_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_person("✅ Use these", Action.GOAL, "save"), _person("✖ Cancel", Action.GOAL, "cancel")]]
    )


def forget_keyboard() -> InlineKeyboardMarkup:
    """`/forget`: the confirmation."""
    return InlineKeyboardMarkup(
        [[_person("🗑 Yes, delete everything", Action.FORGET_YES), _person("Cancel", Action.FORGET_NO)]]
    )


#: The /again list's button that switches to starring meals, and back.
STAR_MODE = "star"


def again_keyboard(found: Sequence[Choice]) -> InlineKeyboardMarkup:
    """`/again`: one button per meal (a tap logs it again as a new card), then one to star or unstar."""
    rows = [
        [
            _button(
                choice_label(n, choice),
                Action.AGAIN_FAVOURITE if choice.origin is Origin.FAVOURITE else Action.AGAIN,
                choice.id,
            )
        ]
        for n, choice in enumerate(found, 1)
    ]
    rows.append([_person("⭐ Star or unstar meals", Action.AGAIN_LIST, STAR_MODE)])
    return InlineKeyboardMarkup(rows)


def star_keyboard(found: Sequence[Choice]) -> InlineKeyboardMarkup:
    """`/again` while starring: a tap stars a meal (☆) or unstars a favourite (⭐); Done goes back."""
    rows = [
        [
            _button(star_label(n, choice), Action.UNSTAR, choice.id)
            if choice.origin is Origin.FAVOURITE
            else _button(star_label(n, choice), Action.STAR, choice.id)
        ]
        for n, choice in enumerate(found, 1)
    ]
    rows.append([_person("« Done", Action.AGAIN_LIST)])
    return InlineKeyboardMarkup(rows)


#: The STAR button's arg on a saved meal's card (in the /again list it has none).
ON_CARD = "c"


def saved_card_keyboard(meal: MealView, starred: bool = False) -> InlineKeyboardMarkup:
    """A saved meal's card: star it, to log it again from the top of /again (or unstar it)."""
    if starred:
        return InlineKeyboardMarkup([[_button("☆ Remove from favourites", Action.UNSTAR_MEAL, meal.id)]])
    return InlineKeyboardMarkup([[_button("⭐ Add to favourites", Action.STAR, meal.id, arg=ON_CARD)]])


def split_keyboard(meal_id: int, message_id: int) -> InlineKeyboardMarkup:
    """Under "➕ Added": one tap makes the food just typed a meal of its own instead."""
    return InlineKeyboardMarkup(
        [[_button("✂️ Make it a separate meal", Action.SPLIT, meal_id, arg=str(message_id))]]
    )
