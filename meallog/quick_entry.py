"""Understand a food typed as text, like "200 g rice", "2 eggs" or "half a pizza", and turn it into grams.

People log without a photo by typing what they ate the way they would say it. This module splits such a
message into an amount and the food words (`parse_quick_entry`), finds the food in the nutrition table and
converts the amount to grams (`resolve_entry`), and reads the answer to the "type grams" prompt
(`parse_grams`). Plain functions with no Telegram in them; the handlers word the replies. One phrase of a
longer meal ("150g chicken breast", "a bowl of oatmeal", "butter") goes through the same two calls.

Every amount ends up in one of four units: grams, millilitres, pieces or portions; one said in a household
unit also keeps that unit (`Amount.measure`: "slice", "cup", "large", "whole", "glass", "handful"...),
which `meallog.units` weighs per food: a slice of pizza is not a slice of bread, a cup of rice weighs
158 g and "half a pizza" is half of a whole pizza. A bare count counts what the food comes in (eggs,
bananas, whole pizzas). A weight in parentheses wins over the words ("2 large eggs (100 g)"), and hedges
("about 200 g", "~200 g") are read past.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final, Literal

from meallog.nutrition import Food, NutritionTable, normalize
from meallog.portions import MAX_GRAMS, MAX_WEIGHT_TEXT
from meallog.text_fit import clip, one_line
from meallog.units import CUP_ML as CUP_ML  # re-exported: kitchen measures live in meallog.units now
from meallog.units import FL_OZ_ML, SIZES, VOLUMES_ML, WORDS, count_grams, density, unit_grams
from meallog.units import TBSP_ML as TBSP_ML
from meallog.units import TSP_ML as TSP_ML
from meallog.units import piece_grams as piece_grams

Unit = Literal["g", "ml", "piece", "portion"]

# Grams per imperial weight; kitchen measures (CUP_ML...) are `meallog.units`'.
OZ_G: Final = 28.35
LB_G: Final = 453.59
# Millilitres to grams for a food with no volume measure of its own (a cup, a spoon): milk and juice are
# about 1.03 g/ml and oil 0.92, errors far smaller than the guess of how full the glass was.
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
    """How much, normalised: kg -> g, litres and kitchen measures -> ml, counts and other units -> piece.

    `measure` is the household unit it was said in (a unit of `meallog.units.UNITS`: "cup", "slice",
    "large", "whole", "glass"), None for plain weights, volumes and counts; the value of a cup or spoon
    stays in ml ("2 cups" is 480 ml) and that of any other unit is the count ("2 slices" is 2). `word` is
    that unit as typed, so that a food named with it ("cup cakes", "whole milk") can win it back.
    """

    value: float
    unit: Unit
    measure: str | None = None
    word: str | None = None

    @property
    def count(self) -> float:
        """How many of `measure` (or of pieces, portions, grams or ml when there is none)."""
        if self.unit == "ml" and self.measure is not None and self.measure in VOLUMES_ML:
            return self.value / VOLUMES_ML[self.measure]
        return self.value


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
    """The food the entry most likely means, and its weight in grams.

    `query` is the words the food was found by: the entry's `food_query`, or that with the unit word
    before it when the two are the food's name ("big mac" for "a big mac", whose amount read "big" as a
    size).
    """

    food: Food
    grams: float
    query: str = ""


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
    **dict.fromkeys(("floz",), (FL_OZ_ML, "ml")),
    **{word: (VOLUMES_ML[unit], "ml") for word, unit in WORDS.items() if unit in ("cup", "tbsp", "tsp")},
    **{word: (1.0, "piece") for word, unit in WORDS.items() if unit not in ("cup", "tbsp", "tsp")},
    "x": (1.0, "piece"),
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
# Words that only say the amount is a guess: "about 200 g", "approx. 2 cups"; read past before a number.
_HEDGES: Final = frozenset(
    {
        "about",
        "around",
        "approx",
        "approximately",
        "roughly",
        "circa",
        "ca",
        "abt",
        "maybe",
        "nearly",
        "almost",
    }
)
# A weight or volume in parentheses, which wins over the words: "2 large eggs (100 g)", "(approx. 150g)".
_WEIGHT_IN_PARENS: Final = re.compile(
    r"\(\s*(?:about|around|approx\.?|approximately|roughly|ca\.?|~)?\s*(\d+(?:[.,]\d+)?)\s*([a-zA-Z]+)\s*\)"
)
# Units that only name part of a food, typed after it with a bare count: "2 pizza slices".
_TRAILING_PARTS: Final = frozenset(
    word for word, unit in WORDS.items() if unit in ("slice", "piece", "wedge")
)
# Units a size can describe rather than be: "2 large slices of pizza" is slices, "a large glass" a glass.
_SIZE_WORDS: Final = frozenset(word for word, unit in WORDS.items() if unit in SIZES or unit == "whole")
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
    then an optional unit word ("g", "cups", "slices", "fl oz", "large"); a size before a unit describes
    it ("2 large slices"). A unit with no number before "of" is one of it ("cup of coffee"). A bare count
    counts what the food comes in.
    """
    if not tokens:
        return None
    first = tokens[0]
    if first in WORDS and first not in _SIZE_WORDS and tokens[1:2] == ["of"]:
        return _amount(1.0, first), 1  # "slice of pizza", "cup of coffee"
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
        following = tokens[used + 1 : used + 2]
        if tokens[used : used + 1] == ["fl"] and following in (["oz"], ["ounce"], ["ounces"]):
            return _amount(quantity, "floz"), used + 2
        if (
            used < len(tokens)
            and tokens[used] in _SIZE_WORDS
            and following
            and _is_unit(following[0])
            and following[0] not in _SIZE_WORDS
        ):
            used += 1  # "2 large slices of pizza", "a big glass of milk": the size describes the unit
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
    measure = WORDS.get(unit_word)
    return Amount(round(quantity * factor, 6), unit, measure, unit_word if measure is not None else None)


def parse_quick_entry(text: str) -> QuickEntry | None:
    """Split a typed message into the food words and the amount.

    The amount may lead ("200 g rice", "2 slices of bread", "half a pizza") or trail ("rice 150g"); with none
    the food is logged as one default portion. A weight in parentheses wins over any other amount ("2 large
    eggs (100 g)" is 100 g of egg), and hedges before a number are read past ("about 200g rice"). Every
    leftover word is the food query, even nonsense such as "hello": whether it is a food is the table's
    call, not the parser's. None only when no words are left ("", "200 g", "2"). Milligrams and numbers
    that are no amount ("1e309", "1/0", "NaN g"; see `_refuse_unusable_numbers`) give an entry with a
    `refusal`, never an exception.
    """
    weighed, rest = _weight_in_parens(text)
    tokens = _drop_hedges(_tokens(rest))
    try:
        entry = _split(text, tokens)
        if entry is not None and weighed is not None:
            amount = _amount(*weighed)
            return QuickEntry(text=entry.text, food_query=entry.food_query, amount=amount)
        return entry
    except QuickEntryError as refused:
        return QuickEntry(text=text.strip(), food_query=" ".join(tokens), amount=None, refusal=str(refused))


def _weight_in_parens(text: str) -> tuple[tuple[float, str] | None, str]:
    """A weight or volume typed in parentheses ("(100 g)", "(approx. 250 ml)") and the text without it.

    Parentheses that hold anything else ("(23 almonds)", "(homemade)") stay and are read as words.
    """
    for found in reversed(list(_WEIGHT_IN_PARENS.finditer(text))):
        word = found.group(2).lower()
        if (word in _UNITS and _UNITS[word][1] in ("g", "ml") and word not in WORDS) or word in _MILLIGRAMS:
            quantity = _number(found.group(1).replace(",", "."))
            if quantity is not None:
                return (quantity, word), text[: found.start()] + " " + text[found.end() :]
    return None, text


def _drop_hedges(tokens: list[str]) -> list[str]:
    """The tokens without words that only hedge the number after them ("about 200g", "approx. 2 cups")."""
    kept: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        numeric = bool(following) and (
            following in _NUMBER_WORDS or _NUMBER_ATTEMPT.match(following) is not None
        )
        if token in _HEDGES and numeric:
            continue
        kept.append(token)
    return kept


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
    if (
        amount is not None
        and amount.unit == "piece"
        and amount.measure is None
        and len(food) > 1
        and food[-1] in _TRAILING_PARTS
    ):
        # "2 pizza slices": two slices, not two pizzas
        amount = Amount(amount.value, "piece", WORDS[food[-1]], food[-1])
        food = food[:-1]
    if not food:
        return None
    return QuickEntry(text=text.strip(), food_query=" ".join(food), amount=amount)


def _to_grams(amount: Amount | None, food: Food) -> float:
    """Grams of `food` for the amount: weights as is, a household unit at the food's own weight for it
    (`meallog.units`), other volumes at the food's density, counts of what it comes in, or portions."""
    if amount is None:
        return food.portion_g
    if amount.unit == "g":
        return amount.value
    if amount.unit == "portion":
        return amount.value * food.portion_g
    if amount.unit == "ml":
        if amount.measure is not None and amount.measure in VOLUMES_ML:
            return amount.count * unit_grams(food, amount.measure)
        return amount.value * (density(food) or DENSITY_G_PER_ML)
    if amount.measure is None:
        return amount.value * count_grams(food)
    return amount.value * unit_grams(food, amount.measure)


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


def _names_with_unit(word: str, query: str, table: NutritionTable) -> bool:
    """Whether the unit word typed before the food words belongs to the food's name instead.

    So when the words with it are a food's exact name ("cup cakes", "whole milk", "whole wheat bread"),
    or, when the food words alone are not ("big mac" but not "large eggs" or "small pizza"), the best
    match holds every word of the name typed (a product of the FoodData Central index).
    """
    joined = f"{word} {query}"
    if table.exact(joined) is not None:
        return True
    if table.exact(query) is not None:
        return False
    found = table.search(joined, limit=1)
    if not found:
        return False
    name = normalize(found[0].name).split()
    stems = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in normalize(joined).split()]
    return all(any(part.startswith(stem) for part in name) for stem in stems)


def resolve_entry(entry: QuickEntry, table: NutritionTable) -> Resolved | None:
    """The food the entry names and its grams, or None when the table knows no such food.

    The best match is chosen; a wrong guess is changed on the meal card (the item's Search button). Raises
    `QuickEntryError` (a friendly message) when the amount is zero or less or more than `MAX_GRAMS`: silently
    clamping "9 kg rice" would log a number the person never meant; likewise, before any search, for the
    entry's `refusal`.
    """
    if entry.refusal is not None:
        raise QuickEntryError(entry.refusal)
    query, amount = entry.food_query, entry.amount
    if amount is not None and amount.word is not None and _names_with_unit(amount.word, query, table):
        # The unit word is part of the food's name: "2 cup cakes", "a whole milk", "2 big macs"
        query, amount = f"{amount.word} {query}", Amount(amount.count, "piece")
    # The table puts a key, name or alias equal to the query (or its singular) first, then fuzzy matches.
    found = table.search(query, limit=1)
    if not found:
        return None
    food = found[0]
    grams = round(_to_grams(amount, food), 2)
    _check_grams(grams, entry)
    return Resolved(food=food, grams=grams, query=query)


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
