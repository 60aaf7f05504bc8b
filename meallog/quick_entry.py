"""Understand a food typed as text, like "200 g rice", "2 eggs" or "half a pizza", and turn it into grams.

People log without a photo by typing what they ate the way they would say it. This module splits such a
message into an amount and the food words (`parse_quick_entry`), finds the food in the nutrition table and
converts the amount to grams (`resolve_entry`), and reads the answer to the "type grams" prompt
(`parse_grams`). Plain functions with no Telegram in them; the handlers word the replies.

Every amount ends up in one of four units: grams, millilitres, pieces (a count of the food's default portion:
one egg, one slice of bread) or portions. Kitchen measures are fixed volumes (cup 240 ml, tablespoon 15 ml,
teaspoon 5 ml) and millilitres count as grams at density 1.0: milk and juice are about 1.03 g/ml and oil
0.92, errors far smaller than the guess of how full the glass was, and the table has no densities to do
better with.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final, Literal

from meallog.nutrition import Food, NutritionTable
from meallog.portions import MAX_GRAMS, MAX_WEIGHT_TEXT
from meallog.text_fit import clip, one_line

Unit = Literal["g", "ml", "piece", "portion"]

# Millilitres per kitchen measure (US cup; metric spoons), and grams per imperial weight.
CUP_ML: Final = 240.0
TBSP_ML: Final = 15.0
TSP_ML: Final = 5.0
OZ_G: Final = 28.35
LB_G: Final = 453.59
# Millilitres to grams; see the module docstring for why one density fits all.
DENSITY_G_PER_ML: Final = 1.0

# Replies that echo what was typed show at most this many characters of it.
ECHO_LIMIT: Final = 40
SENSIBLE_AMOUNT = f"type grams between 1 and {MAX_GRAMS:g}, like 150 g rice"
TOO_MUCH = f"That's more than {MAX_WEIGHT_TEXT} — type the grams of one meal."
NOT_POSITIVE = f"The amount has to be more than zero — {SENSIBLE_AMOUNT}."
NO_MILLIGRAMS = "Milligrams are too small to weigh a meal in — type grams, like 150 g rice."


class QuickEntryError(ValueError):
    """An amount the bot will not log; `str(error)` is a friendly message to show the person as is."""


@dataclass(frozen=True, slots=True)
class Amount:
    """How much, normalised: kg -> g, litres and kitchen measures -> ml, slices and pieces -> piece."""

    value: float
    unit: Unit


@dataclass(frozen=True, slots=True)
class QuickEntry:
    """A typed message split into the food words and the amount (None when no amount was typed).

    `refusal` is why the amount cannot be logged (milligrams, "1e309"): `resolve_entry` raises it, so
    the reply comes from the one call the handlers already guard.
    """

    text: str
    food_query: str
    amount: Amount | None
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """The food the entry most likely means, and its weight in grams."""

    food: Food
    grams: float


# unit word -> (multiplier, unit the amount is stored in)
_UNITS: Final[dict[str, tuple[float, Unit]]] = {
    **dict.fromkeys(("g", "gr", "grs", "gram", "grams", "gramme", "grammes"), (1.0, "g")),
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme"), (1000.0, "g")),
    **dict.fromkeys(("oz", "ounce", "ounces"), (OZ_G, "g")),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), (LB_G, "g")),
    **dict.fromkeys(("ml", "milliliter", "milliliters", "millilitre", "millilitres"), (1.0, "ml")),
    **dict.fromkeys(("cl", "centiliter", "centiliters", "centilitre", "centilitres"), (10.0, "ml")),
    **dict.fromkeys(("dl", "deciliter", "deciliters", "decilitre", "decilitres"), (100.0, "ml")),
    **dict.fromkeys(("l", "ltr", "liter", "liters", "litre", "litres"), (1000.0, "ml")),
    **dict.fromkeys(("cup", "cups"), (CUP_ML, "ml")),
    **dict.fromkeys(("tbsp", "tbs", "tablespoon", "tablespoons"), (TBSP_ML, "ml")),
    **dict.fromkeys(("tsp", "teaspoon", "teaspoons"), (TSP_ML, "ml")),
    **dict.fromkeys(("piece", "pieces", "pc", "pcs", "x", "slice", "slices"), (1.0, "piece")),
    **dict.fromkeys(("portion", "portions", "serving", "servings"), (1.0, "portion")),
}
_MILLIGRAMS: Final = frozenset({"mg", "milligram", "milligrams", "milligramme", "milligrammes"})
_WEIGHT_UNITS: Final = frozenset(word for word, (_, unit) in _UNITS.items() if unit == "g")
_NUMBER_WORDS: Final = {
    "a": 1.0,
    "an": 1.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "half": 0.5,
}
_NUMBER = re.compile(r"^-?(\d+(?:\.\d+)?|\d+/\d+)$")
_NEGATIVE = re.compile(r"^-\d")
_NUMBER_WITH_UNIT = re.compile(r"^(-?\d+(?:\.\d+)?|-?\d+/\d+)([a-z]+)$")
# Typed as a number, with an optional "x" before or unit after ("1e309", "1/0", "1.2.3g", "x1e5"), whether
# or not `_number` can read it; and the words Python would read as numbers that are none.
_NUMBER_ATTEMPT = re.compile(r"^x?(-?[\d.]*\d[\d./]*(?:e-?\d+)?)([a-z]*)$")
_NOT_NUMBERS: Final = frozenset({"nan", "inf", "infinity"})
_EXPONENT = re.compile(r"\de-?\d")  # "1e5", "1e-5": kept whole by `_tokens`
_TIMES_PREFIX = re.compile(r"^x(\d+)$")  # "eggs x2"
_EDGES: Final = "./'\u2019"  # stripped from the ends of a word: "150g." and "'rice'" are "150g" and "rice"
# "6 pieces", "1/2 breast", "1 ounce (23 almonds)": how many pieces a default portion holds.
_PORTION_COUNT: Final = re.compile(r"^(\d+(?:/\d+)?) ([a-z]+)")
_PORTION_COUNT_IN_PARENS: Final = re.compile(r"\((\d+(?:/\d+)?) ([a-z]+)")
_MEASURE_WORDS: Final = frozenset(
    word for word, (_, unit) in _UNITS.items() if unit in ("g", "ml")
) | frozenset(
    {"scoop", "scoops", "glass", "glasses", "bowl", "bowls", "plate", "plates", "serving", "servings"}
)
_VULGAR_FRACTIONS: Final = {"½": " 1/2 ", "¼": " 1/4 ", "¾": " 3/4 ", "⅓": " 1/3 ", "⅔": " 2/3 "}


def echo(text: str) -> str:
    """What a reply quotes of the person's text: one line, at most `ECHO_LIMIT` characters."""
    return clip(one_line(text), ECHO_LIMIT)


def _tokens(text: str) -> list[str]:
    """Lowercase words and numbers, with decimal commas made points and "½" spelled "1/2".

    Punctuation goes ("hello?" -> "hello", "rice, 150g" -> "rice 150g") but apostrophes stay inside their
    word ("shepherd's pie"), and "1½" becomes "1 1/2" so the mixed number is read whole. A minus sign
    before a number, and an exponent ("1e+309", "1e-5"), stay in the token so that they are refused
    rather than read as a different number.
    """
    text = text.lower()
    for glyph, spelled in _VULGAR_FRACTIONS.items():
        text = text.replace(glyph, spelled)
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)
    text = re.sub(r"(\d)e\+(\d)", r"\1e\2", text)
    text = re.sub(r"[^\w./'\u2019-]+", " ", text)
    tokens: list[str] = []
    for raw in text.split():
        if _NEGATIVE.match(raw) or _EXPONENT.search(raw):
            tokens.append(raw.rstrip(_EDGES))  # kept so "-5 g" is refused, not read as 5 g
        else:
            tokens.extend(token for part in raw.replace("-", " ").split() if (token := part.strip(_EDGES)))
    return tokens


def _number(token: str) -> float | None:
    """A digit number or simple fraction; None for anything else, including "1/0" and numbers too large
    for a float (400 digits), which no amount is."""
    if not _NUMBER.match(token):
        return None
    try:
        if "/" in token:
            top, bottom = token.split("/")
            value = int(top) / int(bottom)  # int() takes the sign of "-1/2"
        else:
            value = float(token)
    except (ZeroDivisionError, OverflowError, ValueError):  # ValueError: past Python's int digit limit
        return None
    return value if math.isfinite(value) else None


def _refuse_unusable_numbers(tokens: list[str]) -> None:
    """Refuse a message with a number the bot cannot use, rather than search for the rest of it.

    Otherwise "1e309 g rice" or "1/0 rice" would find rice and log its default portion, an amount the
    person never typed. Refused: a token typed as a number that `_number` cannot read ("1e5", "1/0",
    "1.2.3", "x1e5", "1e309g"), and "inf", "infinity" or "nan" where an amount goes: before a unit
    ("NaN g rice"), or, for the first two, at either end ("inf rice"). A lone "nan" is a food: naan.
    """
    for index, token in enumerate(tokens):
        attempt = _NUMBER_ATTEMPT.match(token)
        unusable = (
            attempt is not None
            and (not attempt.group(2) or _is_unit(attempt.group(2)))
            and _number(attempt.group(1)) is None
        )
        if token in _NOT_NUMBERS:
            before_unit = index + 1 < len(tokens) and _is_unit(tokens[index + 1])
            at_an_end = token != "nan" and index in (0, len(tokens) - 1)
            unusable = before_unit or at_an_end
        if unusable:
            raise QuickEntryError(f"I can't use “{echo(token)}” as an amount: {SENSIBLE_AMOUNT}.")


def _unit(word: str) -> tuple[float, Unit]:
    """The multiplier and unit of a unit word; refuses milligrams, which no meal is weighed in."""
    if word in _MILLIGRAMS:
        raise QuickEntryError(NO_MILLIGRAMS)
    return _UNITS[word]


def _is_unit(word: str) -> bool:
    return word in _UNITS or word in _MILLIGRAMS


def _leading_amount(tokens: list[str]) -> tuple[Amount, int] | None:
    """The amount at the start of `tokens` and how many tokens it took, or None when there is none.

    Reads a quantity ("2", "1.5", "1/2", "1 1/2", "two", "a", "half a", "one and a half", "200g", "2x"),
    then an optional unit word ("g", "cups", "slices"). A bare count counts pieces of the food.
    """
    if not tokens:
        return None
    first = tokens[0]
    used = 1
    unit_word: str | None = None
    quantity = _number(first)
    if quantity is None and (attached := _NUMBER_WITH_UNIT.match(first)) and _is_unit(attached.group(2)):
        quantity = _number(attached.group(1))
        unit_word = attached.group(2)
    if quantity is None and first in _NUMBER_WORDS:
        quantity = _NUMBER_WORDS[first]
        if first == "half" and tokens[1:2] in (["a"], ["an"]):
            used = 2  # "half a pizza"
        elif first in ("a", "an") and tokens[1:2] == ["half"]:
            quantity, used = 0.5, 2  # "a half cup of milk"
    if quantity is None:
        return None
    if unit_word is None:
        rest = tokens[used:]
        if (
            quantity == int(quantity)
            and rest
            and (fraction := _number(rest[0])) is not None
            and "/" in rest[0]
        ):
            quantity += fraction  # "1 1/2 cups"
            used += 1
        elif rest[:3] == ["and", "a", "half"]:
            quantity += 0.5  # "one and a half"
            used += 3
        if used < len(tokens) and _is_unit(tokens[used]):
            unit_word = tokens[used]
            used += 1
    return _amount(quantity, unit_word), used


def _trailing_amount(tokens: list[str]) -> tuple[Amount, int] | None:
    """The amount at the end of `tokens` ("rice 150g", "rice 150 g", "milk 1.5 cups", "eggs x2", "egg 2")
    and how many tokens it took, or None when the message does not end in one."""
    if not tokens:
        return None
    last = tokens[-1]
    if (times := _TIMES_PREFIX.match(last)) is not None and (count := _number(times.group(1))) is not None:
        return _amount(count, "x"), 1
    if (attached := _NUMBER_WITH_UNIT.match(last)) and _is_unit(attached.group(2)):
        quantity = _number(attached.group(1))
        if quantity is not None:
            return _amount(quantity, attached.group(2)), 1
    if (quantity := _number(last)) is not None:
        if len(tokens) > 1 and tokens[-2] == "x":
            return _amount(quantity, "x"), 2  # "eggs x 2"
        return _amount(quantity, None), 1
    if _is_unit(last) and len(tokens) > 1 and (quantity := _number(tokens[-2])) is not None:
        return _amount(quantity, last), 2
    return None


def _amount(quantity: float, unit_word: str | None) -> Amount:
    """Normalise a quantity and unit word; no unit means a count of pieces ("2 eggs")."""
    if unit_word is None:
        return Amount(quantity, "piece")
    factor, unit = _unit(unit_word)
    return Amount(round(quantity * factor, 6), unit)


def parse_quick_entry(text: str) -> QuickEntry | None:
    """Split a typed message into the food words and the amount.

    The amount may lead ("200 g rice", "2 slices of bread", "half a pizza") or trail ("rice 150g"); with none
    the food is logged as one default portion. Every leftover word is the food query, even nonsense such as
    "hello": whether it is a food is the table's call, not the parser's. None only when no words are left
    ("", "200 g", "2"). Milligrams and numbers that are no amount ("1e309", "1/0", "NaN g"; see
    `_refuse_unusable_numbers`) give an entry with a `refusal`, never an exception.
    """
    tokens = _tokens(text)
    try:
        return _split(text, tokens)
    except QuickEntryError as refused:
        return QuickEntry(text=text.strip(), food_query=" ".join(tokens), amount=None, refusal=str(refused))


def _split(text: str, tokens: list[str]) -> QuickEntry | None:
    """`parse_quick_entry` on the tokens of `text`; raises `QuickEntryError` for an amount to refuse."""
    _refuse_unusable_numbers(tokens)
    amount: Amount | None = None
    if (leading := _leading_amount(tokens)) is not None:
        amount, used = leading
        food = tokens[used:]
        if food[:1] == ["of"]:
            food = food[1:]  # "2 slices of bread", "a cup of coffee"
    elif (trailing := _trailing_amount(tokens)) is not None:
        amount, used = trailing
        food = tokens[:-used]
    else:
        food = tokens
    if not food:
        return None
    return QuickEntry(text=text.strip(), food_query=" ".join(food), amount=amount)


def piece_grams(food: Food) -> float:
    """Grams of one piece of `food`: the default portion, unless that is several pieces or part of one.

    A count means that many of the things themselves: "10 almonds" is ten nuts, not ten of the table's
    "1 ounce (23 almonds)" portions (a 23-fold error), "3 pcs sushi" is three of "6 pieces" and "a chicken
    breast" is two of "1/2 breast". The portion name says how many pieces it holds ("6 pieces", "4 wings",
    "(23 almonds)", "1/2 grapefruit"); measures ("2 tablespoons", "3 ounces", "1/2 cup") say nothing about
    pieces, so for those, as for "1 large egg" or "1 slice", one piece is the whole portion.
    """
    name = food.portion_name.lower()
    leading = _PORTION_COUNT.match(name)
    in_parens = _PORTION_COUNT_IN_PARENS.search(name)
    # "1 piece (1/4 baguette)" names its own piece; otherwise "(23 almonds)" is more telling than "1 ounce".
    own_piece = leading if leading is not None and _UNITS.get(leading.group(2)) == (1.0, "piece") else None
    for counted in (own_piece, in_parens, leading):
        if counted is not None and counted.group(2) not in _MEASURE_WORDS:
            pieces = _number(counted.group(1))
            return food.portion_g / pieces if pieces else food.portion_g
    return food.portion_g


def _to_grams(amount: Amount | None, food: Food) -> float:
    """Grams of `food` for the amount: weights as is, volumes at density 1, counts of pieces or portions."""
    if amount is None:
        return food.portion_g
    if amount.unit == "g":
        return amount.value
    if amount.unit == "ml":
        return amount.value * DENSITY_G_PER_ML
    if amount.unit == "piece":
        return amount.value * piece_grams(food)
    return amount.value * food.portion_g


def _check_grams(grams: float, entry: QuickEntry) -> None:
    """Refuse what cannot be one meal, with a message that says how to type it instead."""
    if grams <= 0:
        raise QuickEntryError(NOT_POSITIVE)
    if grams > MAX_GRAMS:
        amount = entry.amount
        if amount is not None and amount.unit in ("piece", "portion") and amount.value > 10:
            # "200 rice" is almost always 200 g, not 200 portions; say so rather than guess.
            grams_hint = f"{amount.value:g} g {echo(entry.food_query)}"
            raise QuickEntryError(f"That's more than {MAX_WEIGHT_TEXT} — for grams, type {grams_hint}.")
        raise QuickEntryError(TOO_MUCH)


def resolve_entry(entry: QuickEntry, table: NutritionTable) -> Resolved | None:
    """The food the entry names and its grams, or None when the table knows no such food.

    The best match is chosen; a wrong guess is changed on the meal card (the item's Search button). Raises
    `QuickEntryError` (a friendly message) when the amount is zero or less or more than `MAX_GRAMS`: silently
    clamping "9 kg rice" would log a number the person never meant; likewise, before any search, for the
    entry's `refusal`.
    """
    if entry.refusal is not None:
        raise QuickEntryError(entry.refusal)
    # The table puts a key, name or alias equal to the query (or its singular) first, then fuzzy matches.
    found = table.search(entry.food_query, limit=1)
    if not found:
        return None
    food = found[0]
    grams = round(_to_grams(entry.amount, food), 2)
    _check_grams(grams, entry)
    return Resolved(food=food, grams=grams)


def parse_grams(text: str) -> float | None:
    """Grams from the answer to the "type grams" prompt: "150", "150 g", "150g", "0.2 kg", "1,5 kg", "6 oz".

    Only weights are accepted (a volume there is more likely a mistake than a measurement); anything else,
    zero or less, more than `MAX_GRAMS`, or no number at all ("nan", "inf", "1e309", "1/0") gives None,
    and the prompt asks again.
    """
    tokens = _tokens(text)
    quantity: float | None = None
    unit_word = "g"
    if len(tokens) == 1:
        quantity = _number(tokens[0])
        if quantity is None and (attached := _NUMBER_WITH_UNIT.match(tokens[0])):
            quantity, unit_word = _number(attached.group(1)), attached.group(2)
    elif len(tokens) == 2:
        quantity, unit_word = _number(tokens[0]), tokens[1]
    if quantity is None or unit_word not in _WEIGHT_UNITS:
        return None
    grams = round(quantity * _UNITS[unit_word][0], 2)
    return grams if 0 < grams <= MAX_GRAMS else None


def reads_as_meal(text: str, table: NutritionTable) -> bool:
    """Whether text typed under some other prompt is plainly a meal: an amount and a food ("2 eggs",
    "200g chicken", even with an amount the bot refuses), or a curated food's exact name ("pizza").

    A lone word that search would stretch to some food is not: with all of FoodData Central behind the
    search nearly every word is some product's name ("Zone", "180", "nan").
    """
    entry = parse_quick_entry(text)
    if entry is None or not entry.food_query.strip():
        return False
    if entry.amount is None and entry.refusal is None and table.exact(text) is None:
        return False
    if entry.refusal is not None:  # "1e309 g rice": a meal whose amount the quick entry will refuse;
        # a lone refused number ("inf") is no meal
        return len(text.split()) > 1 and bool(table.search(entry.food_query, limit=1))
    try:
        return resolve_entry(entry, table) is not None
    except QuickEntryError:
        return True
