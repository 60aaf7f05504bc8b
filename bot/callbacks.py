"""Inline-button callback data: ids only, at most 64 bytes, parsed defensively.

Anyone can send any callback data, so a press is parsed into a typed `Press` or rejected; ownership of
the meal is checked by the meal log, not trusted from the data. Format: `action:meal_id:item_id:arg`
(unused parts empty), e.g. `x:42:7:h` = scale item 7 of meal 42 by one half, and on a draft's card
`:version` after it (`x:42:7:h:3`): the draft's version the card showed, so a double tap or a replayed
press changes the meal once (`meallog.store.meals.StaleCard`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_BYTES = 64


class Action(StrEnum):
    """What a button does; the values are the short codes sent to Telegram."""

    CARD = "v"  # show the meal card
    ITEM = "i"  # open one item's options
    ALTERNATIVE = "alt"  # change an item to the model's alternative number `arg`
    SEARCH = "s"  # prompt: type a food name to replace the item
    SCALE = "x"  # portion × factor code in `arg`
    GRAMS = "g"  # prompt: type grams
    REMOVE = "r"  # remove the item
    ADD = "a"  # prompt: type a food name to add
    PICK = "p"  # pick search result number `arg`
    SAVE = "ok"
    DISCARD = "no"
    DELETE = "d"  # ask to delete a saved meal
    DELETE_YES = "dy"  # delete it
    UNDO_YES = "uy"  # /undo confirmed
    CANCEL = "c"  # close a confirmation without doing anything
    SPLIT = "sp"  # foods that joined an open meal: move those of message `arg` into a meal of their own
    # Meals in /history, and a draft's day and time:
    REOPEN = "ro"  # reopen a saved meal as a draft copy
    WHEN = "w"  # a draft's day & time picker
    MOVE = "mv"  # move a draft: `arg` is a MOVES code
    TYPE_TIME = "tt"  # prompt: type when the draft was eaten
    # About the person, not a meal (meal id 0, see `decode_person`):
    HISTORY = "h"  # show local day `arg` (YYYYMMDD) in /history
    SETTINGS = "st"  # a /settings button: `arg` is tz, time, on, off, nudge, silent or back
    SUMMARY_HOUR = "sh"  # summary time: hour `arg` chosen, pick the minutes
    SUMMARY_TIME = "sm"  # summary time: `arg` is HHMM
    GOAL = "gl"  # a /goal button: `arg` is e.g. calc, clear, sex.m, act.mod, aim.lose, save
    FORGET_YES = "fy"  # /forget confirmed
    FORGET_NO = "fn"  # /forget cancelled
    TIMEZONE_PLACE = "tzp"  # (about the person) set the zone of gazetteer place `arg` (a GeoNames id)
    # Logging a meal again (/again, `bot.handlers.again`) and favourites:
    AGAIN = "ag"  # a new draft with the foods of saved meal `meal_id`
    AGAIN_FAVOURITE = "agf"  # a new draft with the foods of favourite `meal_id` (a favourite's id)
    STAR = "ags"  # make saved meal `meal_id` a favourite: `arg` "c" on its card, else in the /again list
    UNSTAR = "agu"  # in the /again list: delete favourite `meal_id` (a favourite's id)
    UNSTAR_MEAL = "agc"  # on a saved meal's card: delete the favourite with its foods
    AGAIN_LIST = "agl"  # (about the person) the /again list: `arg` "star" to star meals, else to log one
    # A person's own foods (/myfoods, `bot.handlers.my_foods`), about the person; `arg` is an operation
    # letter and a food id: l list, n new, s<id> show, e<id> change, d<id> delete, u<id> undo.
    MY_FOOD = "mf"


#: Portion factors offered as buttons; the code keeps callback data short.
#: The portion buttons: code → how many of the food's default portions (`MealStore.set_portions`).
PORTIONS: dict[str, float] = {"h": 0.5, "1": 1.0, "o": 1.5, "d": 2.0}


@dataclass(frozen=True, slots=True)
class Press:
    """A parsed button press."""

    action: Action
    meal_id: int
    item_id: int = 0
    arg: str = ""
    #: The draft's version the button was made for; None on buttons that carry none.
    version: int | None = None


def encode(action: Action, meal_id: int, item_id: int = 0, arg: str = "", version: int | None = None) -> str:
    """Callback data for a button; raises ValueError if it would exceed Telegram's 64 bytes."""
    data = f"{action.value}:{meal_id}:{item_id or ''}:{arg}"
    if version is not None:
        data += f":{version}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Press | None:
    """The press, or None for anything malformed (old formats, forged data)."""
    if not data:
        return None
    parts = data.split(":")
    if len(parts) not in (4, 5):
        return None
    code, meal, item, arg = parts[:4]
    try:
        action = Action(code)
        meal_id = int(meal)
        item_id = int(item) if item else 0
        version = int(parts[4]) if len(parts) == 5 else None
    except ValueError:
        return None
    if meal_id <= 0 or item_id < 0 or len(arg) > 16 or (version is not None and version <= 0):
        return None
    return Press(action, meal_id, item_id, arg, version)


def number_arg(arg: str) -> int | None:
    """A button's `arg` as a non-negative id or index, or None: only ASCII digits count ("²" is a digit
    to `str.isdigit` but no number to `int`), and at most 10 of them."""
    return int(arg) if arg.isascii() and arg.isdigit() and len(arg) <= 10 else None


@dataclass(frozen=True, slots=True)
class Move:
    """A button that moves a draft in time: its code in the callback data, its label, how far."""

    code: str
    label: str
    days: int = 0
    minutes: int = 0


#: The day & time picker's move buttons, row by row (`bot.keyboards.when_keyboard`).
MOVE_ROWS: tuple[tuple[Move, ...], ...] = (
    (Move("d-", "◀ Day before", days=-1), Move("d+", "Day after ▶", days=1)),
    (
        Move("h-", "−1 h", minutes=-60),
        Move("q-", "−15 min", minutes=-15),
        Move("q+", "+15 min", minutes=15),
        Move("h+", "+1 h", minutes=60),
    ),
)
#: Moving a draft in time: code → (days, minutes).
MOVES: dict[str, tuple[int, int]] = {m.code: (m.days, m.minutes) for row in MOVE_ROWS for m in row}

#: Actions about the person rather than one meal: their data carry meal id 0.
PERSON_ACTIONS = frozenset(
    {
        Action.HISTORY,
        Action.SETTINGS,
        Action.SUMMARY_HOUR,
        Action.SUMMARY_TIME,
        Action.GOAL,
        Action.FORGET_YES,
        Action.FORGET_NO,
        Action.TIMEZONE_PLACE,
        Action.AGAIN_LIST,
        Action.MY_FOOD,
    }
)


def encode_person(action: Action, arg: str = "") -> str:
    """Callback data for a button about the person (meal id 0)."""
    if action not in PERSON_ACTIONS:
        raise ValueError(f"{action!r} is about a meal; use encode()")
    if ":" in arg or len(arg) > 16:
        raise ValueError(f"a button's arg has no colon and at most 16 characters: {arg!r}")
    return encode(action, 0, 0, arg)


def decode_person(data: str | None) -> Press | None:
    """A press of a person button (meal id 0), or of a meal button (as `decode`); None if malformed."""
    if data and data.count(":") == 3:
        code, meal, item, arg = data.split(":")
        if code in {a.value for a in PERSON_ACTIONS} and meal == "0" and not item and len(arg) <= 16:
            return Press(Action(code), 0, 0, arg)
    return decode(data)


def pattern(actions: frozenset[Action] | set[Action]) -> str:
    """A CallbackQueryHandler pattern matching exactly these actions' data."""
    codes = "|".join(sorted((a.value for a in actions), key=len, reverse=True))
    return rf"^(?:{codes}):"
