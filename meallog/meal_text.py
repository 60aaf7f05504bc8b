"""Read a typed meal or a photo caption that names several foods: "chicken breast 150g and salad".

People type a meal the way they would say it: foods joined by commas, "and", "with", "+", each with or
without an amount. This module cuts such a text into one phrase per food (`split_phrases`) and resolves
each phrase with the quick entry (`meallog.quick_entry`), so "2 slices of toast with butter" is toast and
butter, each with its amount. Plain functions with no Telegram in them.

A dish whose name holds a joining word ("mac and cheese", "fish and chips") is kept whole: parts are
joined again wherever the joined words are a food's exact name. Captions are read more strictly than
typed meals (`strict`): a caption is often a title ("Lunch with Anna"), so only a phrase with an amount
("2 boiled eggs") or a food's exact name ("pizza") counts as a food there. A typed text of several phrases
is read a little more loosely: a phrase may also be anything search finds among the curated foods, but
not a stretch into the 365,000 foods of FoodData Central, where nearly every word is some product's name
("lunch", "anna"); a lone phrase is searched everywhere, as the quick entry always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from meallog.nutrition import Food, NutritionTable, normalize
from meallog.quick_entry import QuickEntry, QuickEntryError, parse_quick_entry, resolve_entry
from meallog.text_fit import ECHO_CHARS, clip, one_line

#: Marks that always separate two foods; a comma between digits is a decimal comma ("1,5 kg") and stays.
_HARD: Final = re.compile(r"(?<!\d),|,(?!\d)|;|\n|\s*\+\s*|\s&\s|\bplus\b", re.IGNORECASE)
#: Words that join two foods but may also be part of one dish's name ("mac and cheese").
_SOFT: Final = re.compile(r"\s+(?:and|with|w/|n)\s+", re.IGNORECASE)
#: The joining word put back when two parts turn out to be one dish.
_JOINERS: Final = re.compile(r"\s+(and|with|w/|n)\s+", re.IGNORECASE)
#: More phrases than this in one message is a list of many meals or a paste, not a meal; the rest is
#: reported as not understood rather than searched one by one.
MAX_PHRASES: Final = 12
#: The most parts one dish's name joins ("salt and pepper chicken and chips" is 3); longer runs are not
#: tried, which keeps a 4,096-character "a and a and a …" to a few milliseconds.
MAX_DISH_PARTS: Final = 4
#: Parts looked at in one message at all; whatever follows is one unknown phrase.
MAX_PARTS: Final = 3 * MAX_PHRASES


@dataclass(frozen=True, slots=True)
class FoodPhrase:
    """One food of the text: what was typed, the food it means, and its grams."""

    phrase: str
    food: Food
    grams: float


@dataclass(frozen=True, slots=True)
class MealText:
    """What a text names: the foods found, the phrases that named no food, and a refusal.

    `refusal` is a friendly message (plain text) when an amount cannot be logged ("9 kg rice"): then
    nothing is logged, so the person retypes the message rather than finding half of it on the card.
    """

    foods: list[FoodPhrase] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    refusal: str | None = None


def _clean(phrase: str) -> str:
    return " ".join(phrase.split()).strip(" .!")


def split_phrases(text: str, table: NutritionTable) -> list[str]:
    """The text cut into one phrase per food, in the order typed.

    Commas, semicolons, new lines, "+" and "&" always cut; "and"/"with" cut unless the words on both sides
    together are a food's exact name (with the amount left aside: "200 g mac and cheese").
    """
    phrases: list[str] = []
    chunks = _HARD.split(text, maxsplit=MAX_PARTS)
    for chunk in chunks:
        chunk = _clean(chunk or "")
        if not chunk:
            continue
        if len(phrases) >= MAX_PARTS:
            phrases.append(clip(one_line(chunk), ECHO_CHARS))  # past any meal: reported, not searched
            break
        pieces = _JOINERS.split(chunk, maxsplit=MAX_PARTS)
        # pieces alternate: part, joiner, part, joiner, part ...
        parts = [pieces[0]]
        joiners: list[str] = []
        for joiner, part in zip(pieces[1::2], pieces[2::2], strict=True):
            joiners.append(joiner)
            parts.append(part)
        phrases.extend(_rejoin_dishes(parts, joiners, table))
    return [phrase for phrase in (_clean(p) for p in phrases) if phrase]


def _rejoin_dishes(parts: list[str], joiners: list[str], table: NutritionTable) -> list[str]:
    """Join neighbouring parts again where together they name one food exactly, longest run first."""
    result: list[str] = []
    start = 0
    while start < len(parts):
        end = start + 1
        for stop in range(min(len(parts), start + MAX_DISH_PARTS), start + 1, -1):
            joined = parts[start]
            for index in range(start + 1, stop):
                joined = f"{joined} {joiners[index - 1]} {parts[index]}"
            if _is_exact_food(joined, table):
                end = stop
                joined_phrase = joined
                break
        else:
            joined_phrase = parts[start]
        result.append(joined_phrase)
        start = end
    return result


def _is_exact_food(phrase: str, table: NutritionTable) -> bool:
    entry = parse_quick_entry(phrase)
    return entry is not None and table.exact(entry.food_query) is not None


def _head_words(name: str) -> list[str]:
    """The words of a food name before its first comma, without parentheses: "Big Mac (McDonalds)" ->
    ["big", "mac"], "Injera, Ethiopian bread" -> ["injera"]: what the food is, not how it is made."""
    head = re.sub(r"\([^)]*\)", " ", name.split(",")[0])
    return normalize(head).split()


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def named_plainly(query: str, food: Food) -> bool:
    """Whether the food is plainly what was typed: its name's head is the query's words ("kimchi" is
    "Kimchi", "big mac" is "Big Mac (McDonalds)"), not a product that merely mentions them ("lunch" is not
    "Pretzels, soft, from school lunch")."""
    wanted = [_singular(word) for word in normalize(query).split()]
    return bool(wanted) and [_singular(word) for word in _head_words(food.name)] == wanted


def _accepted(entry: QuickEntry, query: str, food: Food, table: NutritionTable, *, strict: bool) -> bool:
    """Whether a phrase of several (or of a caption) names this food clearly enough to log it.

    Always: the food's exact name or alias ("2 boiled eggs"), or a food named plainly as typed; for a
    caption nothing else ("Table 12" is no 12 tablespoons of sugar). A typed phrase also takes any curated
    food, or any food with an amount ("150 g doro wat": the amount says a food was meant).
    """
    if table.exact(query) is not None or named_plainly(query, food):
        return True
    if strict:
        return False
    return table.is_curated(food.key) or entry.amount is not None


def read_meal(text: str, table: NutritionTable, *, strict: bool = False) -> MealText:
    """The foods `text` names, each with its grams, in the order typed.

    A phrase that names no food goes to `unknown`, as does, in a caption or a text of several phrases, a
    phrase whose food is only a stretch of search (`_accepted`). The first amount that cannot be logged
    refuses the whole text.
    """
    whole = _clean(text)
    named = table.exact(whole)
    if named is not None and table.is_own(named.key):  # "Soup 3", a person's own food: no amount in it
        return MealText(foods=[FoodPhrase(phrase=whole, food=named, grams=named.portion_g)])
    phrases = split_phrases(text, table)
    if len(phrases) > 1 and _is_exact_food(whole, table):
        phrases = [whole]  # "fish, chips" is two foods; "bread and butter pudding" is one
    result = MealText()
    for index, phrase in enumerate(phrases):
        if index >= MAX_PHRASES:
            result.unknown.append(phrase)
            continue
        entry = parse_quick_entry(phrase)
        if entry is None:
            result.unknown.append(phrase)
            continue
        try:
            resolved = resolve_entry(entry, table)
        except QuickEntryError as refused:
            if strict:  # a caption's "Paris 2024" or "Day 100" is a title, not an amount to refuse
                result.unknown.append(phrase)
                continue
            return MealText(refusal=str(refused))
        checked = strict or len(phrases) > 1
        if resolved is None or (
            checked
            and not _accepted(entry, resolved.query or entry.food_query, resolved.food, table, strict=strict)
        ):
            result.unknown.append(phrase)
            continue
        result.foods.append(FoodPhrase(phrase=phrase, food=resolved.food, grams=resolved.grams))
    return result
