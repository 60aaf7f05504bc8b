"""Logging a meal again: which meals `/again` offers and how they read, and which meal a typed "same as
yesterday's breakfast" means. Plain rules, data in and data out: no database, no Telegram.

* **Choices.** The person's favourites come first (⭐), then their recent saved meals, newest first. Meals
  are told apart by their foods only (`signature`): the same breakfast logged every day is offered once,
  in its newest form, and not at all when a favourite has the same foods. Meals without foods are left
  out: there is nothing to log again.
* **Times of day.** A meal's slot is the local time it was eaten, in the person's zone: breakfast before
  11:00, lunch from 11:00 to before 16:00, dinner from 16:00 (`slot_of`). "Yesterday's breakfast" is the
  meal of the previous local day in that slot; when there were several (a coffee at 7, the breakfast at
  9) it is the one with the most kcal, the earliest of equals (`pick_meal`). "Same as yesterday" names
  no slot: it means the slot the person is in now, so at 08:00 it is yesterday's breakfast.
* **Typed asks** (`read_again`): "again", "same again", "same as last time", "repeat" (the newest meal
  logged), "same as yesterday", "same as yesterday's lunch", "yesterday's breakfast again", "same
  dinner as yesterday", "today's lunch"… Anything else is not an ask to log a meal again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from html import escape
from zoneinfo import ZoneInfo

from meallog.portions import Macros, total
from meallog.store.views import MealView
from meallog.text_fit import MAX_TEXT, clip, fit_html, one_line

#: Where the slots of the day begin, in the person's local time.
LUNCH_FROM = time(11, 0)
DINNER_FROM = time(16, 0)
#: Recent meals (not favourites) an /again list offers, after the favourites.
RECENT_SHOWN = 8
#: Favourites a person may keep: each is a row of the /again list, which must stay one short message.
MAX_FAVOURITES = 20
#: A meal's name on its button (the caption, or its foods' names).
LABEL_CHARS = 32
#: The foods line of a meal in the /again list.
FOODS_CHARS = 160

EMPTY = (
    "Nothing to log again yet. Send a photo of a meal or type one, like <i>2 eggs</i>, and Save it: "
    "next time /again logs it with one tap."
)
LIST_HINT = "Tap a meal for a new card with the same foods, dated now; change it or Save."
STAR_HINT = (
    "Tap a meal to star or unstar it. Starred meals (⭐) stay on top of /again, also after the meal "
    "they came from is deleted."
)


class Slot(StrEnum):
    """A part of the day a meal was eaten in (`slot_of`)."""

    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"


#: Each slot's hours, as a reply names them.
SLOT_HOURS = {
    Slot.BREAKFAST: f"before {LUNCH_FROM:%H:%M}",
    Slot.LUNCH: f"{LUNCH_FROM:%H:%M}–{DINNER_FROM:%H:%M}",
    Slot.DINNER: f"from {DINNER_FROM:%H:%M}",
}


def slot_of(local: time) -> Slot:
    """The slot of a local wall time: breakfast before 11:00, lunch before 16:00, dinner after."""
    if local < LUNCH_FROM:
        return Slot.BREAKFAST
    if local < DINNER_FROM:
        return Slot.LUNCH
    return Slot.DINNER


def meal_slot(meal: MealView, tz: str) -> Slot:
    """The slot the meal was eaten in, at its local time in the zone `tz`."""
    return slot_of(meal.eaten_at.astimezone(ZoneInfo(tz)).time())


def signature(food_keys: Iterable[str]) -> str:
    """What tells two meals apart here: their foods, in any order and at any grams (a hex digest)."""
    return hashlib.sha256("\x1f".join(sorted(food_keys)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RepeatFood:
    """One food of a meal to log again: its key, its name now, the grams and the numbers it had."""

    food_key: str
    name: str
    grams: float
    macros: Macros


@dataclass(frozen=True, slots=True)
class Favourite:
    """A meal the person starred: a copy of its name and foods (`meallog.store.repeats`)."""

    id: int
    caption: str | None
    foods: tuple[RepeatFood, ...]
    created_at: datetime

    @property
    def signature(self) -> str:
        return signature(food.food_key for food in self.foods)


class Origin(StrEnum):
    """Where a choice of the /again list comes from: a saved meal, or a favourite."""

    MEAL = "meal"
    FAVOURITE = "favourite"


@dataclass(frozen=True, slots=True)
class Choice:
    """One meal the /again list offers: `id` is the saved meal's or the favourite's, by `origin`."""

    origin: Origin
    id: int
    caption: str | None
    foods: tuple[RepeatFood, ...]

    @property
    def favourite(self) -> bool:
        return self.origin is Origin.FAVOURITE

    @property
    def total(self) -> Macros:
        return total(food.macros for food in self.foods)


def foods_of(meal: MealView) -> tuple[RepeatFood, ...]:
    """A saved meal's foods as they would be logged again."""
    return tuple(RepeatFood(i.food_key, i.name, i.grams, i.macros) for i in meal.items)


def choices(
    favourites: Sequence[Favourite], recent: Sequence[MealView], recent_shown: int = RECENT_SHOWN
) -> list[Choice]:
    """The /again list: every favourite, then up to `recent_shown` recent meals (given newest first),
    each set of foods once."""
    found = [Choice(Origin.FAVOURITE, f.id, f.caption, f.foods) for f in favourites if f.foods]
    seen = {f.signature for f in favourites}
    shown = 0
    for meal in recent:
        if shown >= recent_shown:
            break
        key = signature(item.food_key for item in meal.items)
        if not meal.items or key in seen:
            continue
        seen.add(key)
        found.append(Choice(Origin.MEAL, meal.id, meal.caption, foods_of(meal)))
        shown += 1
    return found


def _name(choice: Choice, limit: int) -> str:
    """A choice's name in plain text: its caption, else its foods' names."""
    if choice.caption and choice.caption.strip():
        return clip(one_line(choice.caption), limit)
    return clip(", ".join(food.name for food in choice.foods), limit)


def choice_label(number: int, choice: Choice) -> str:
    """A choice's button: `2. ⭐ Porridge · 420 kcal` (plain text)."""
    star = "⭐ " if choice.favourite else ""
    return f"{number}. {star}{_name(choice, LABEL_CHARS)} · {choice.total.kcal:.0f} kcal"


def star_label(number: int, choice: Choice) -> str:
    """A choice's button while starring: `⭐ 2. Porridge · 420 kcal` starred, `☆ 3. …` not (plain text)."""
    star = "⭐" if choice.favourite else "☆"
    return f"{star} {number}. {_name(choice, LABEL_CHARS)} · {choice.total.kcal:.0f} kcal"


def _foods_line(choice: Choice) -> str:
    foods = [f"{escape(clip(food.name, 40))} {food.grams:.0f} g" for food in choice.foods]
    return fit_html(foods, FOODS_CHARS, sep=", ", more=lambda n: f"+{n} more")


def choice_line(number: int, choice: Choice) -> str:
    """A choice in the list's text (HTML): its name, its foods and grams, its kcal."""
    star = "⭐ " if choice.favourite else ""
    kcal = f"{choice.total.kcal:.0f} kcal"
    if choice.caption and choice.caption.strip():
        return f"{number}. {star}<b>{escape(_name(choice, 60))}</b> — {_foods_line(choice)} · {kcal}"
    return f"{number}. {star}{_foods_line(choice)} · {kcal}"


def list_text(found: Sequence[Choice], note: str = "", *, starring: bool = False) -> str:
    """The /again message (HTML): an optional note (already HTML), the numbered meals, what a tap does."""
    header = [note] if note else []
    header.append("⭐ <b>Favourites</b>" if starring else "🔁 <b>Log a meal again</b>")
    lines = [choice_line(n, choice) for n, choice in enumerate(found, 1)]
    return fit_html([*header, *lines], MAX_TEXT, tail=["", STAR_HINT if starring else LIST_HINT])


# -- typed asks ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgainAsk:
    """A typed ask to log a meal again: the newest meal (`days_back` None), or a meal of today (0) or
    yesterday (1) in `slot` (None: the slot of the time now)."""

    days_back: int | None = None
    slot: Slot | None = None


_SLOT_WORDS = {
    "breakfast": Slot.BREAKFAST,
    "morning": Slot.BREAKFAST,
    "lunch": Slot.LUNCH,
    "noon": Slot.LUNCH,
    "midday": Slot.LUNCH,
    "dinner": Slot.DINNER,
    "supper": Slot.DINNER,
    "evening": Slot.DINNER,
}
_DAY = r"(?P<day>yesterday|today)(?:'s|s)?"
_MEAL = rf"(?P<slot>{'|'.join(_SLOT_WORDS)})"
_LATEST = re.compile(
    r"(?:(?:the )?same(?: again| as (?:last time|before|my last meal|the last meal))?|again|"
    r"repeat(?: (?:it|that|my last meal|the last meal))?|log (?:it|that) again)"
)
_ASKS = (
    re.compile(rf"(?:(?:the )?same as|repeat|log) {_DAY}(?: {_MEAL})?(?: again)?"),
    re.compile(rf"{_DAY} {_MEAL}(?: again)?"),
    re.compile(rf"{_DAY} again"),
    re.compile(rf"(?:the )?same {_MEAL} as (?P<day>yesterday|today)"),
)


def read_again(text: str) -> AgainAsk | None:
    """The ask in a typed text, or None when the text is not one (it may be a meal, like "2 eggs")."""
    said = text.strip().lower().replace("’", "'").replace("‘", "'")
    said = " ".join(re.sub(r"[.!?…]+$", "", said).split())
    if len(said) > 60:
        return None
    if _LATEST.fullmatch(said):
        return AgainAsk()
    for form in _ASKS:
        found = form.fullmatch(said)
        if found is None:
            continue
        slot_word = found.groupdict().get("slot")
        slot = _SLOT_WORDS[slot_word] if slot_word else None
        days_back = 1 if found["day"] == "yesterday" else 0
        if days_back == 0 and slot is None:  # "same as today" names no meal
            return None
        return AgainAsk(days_back, slot)
    return None


def asked_day(ask: AgainAsk, now: datetime, tz: str) -> date:
    """The local day an ask with `days_back` is about."""
    return now.astimezone(ZoneInfo(tz)).date() - timedelta(days=ask.days_back or 0)


def asked_slot(ask: AgainAsk, now: datetime, tz: str) -> Slot:
    """The slot an ask is about: the one it names, else the one the person is in now."""
    return ask.slot or slot_of(now.astimezone(ZoneInfo(tz)).time())


def pick_meal(meals: Sequence[MealView], slot: Slot, tz: str) -> MealView | None:
    """The meal of a day's saved meals that is that day's `slot`: the one in the slot with the most kcal,
    the earliest of equals; None when no meal with foods was eaten in it."""
    found = [m for m in meals if m.items and meal_slot(m, tz) is slot]
    if not found:
        return None
    return min(found, key=lambda m: (-round(m.total.kcal, 3), m.eaten_at, m.id))


def none_found(ask: AgainAsk, slot: Slot) -> str:
    """What to say when the day asked about has no meal in the slot (HTML)."""
    day = "yesterday" if ask.days_back == 1 else "today"
    return f"I found no {slot.value} {day} (a meal eaten {SLOT_HOURS[slot]}). Pick one below."
