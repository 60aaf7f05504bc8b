"""Typed foods ("200 g rice", "2 eggs", "half a pizza") become a food from the real table and its grams."""

from __future__ import annotations

import pytest

from meallog.nutrition import NutritionTable, default_table
from meallog.quick_entry import (
    Amount,
    QuickEntry,
    QuickEntryError,
    Resolved,
    echo,
    parse_grams,
    parse_quick_entry,
    piece_grams,
    resolve_entry,
)

# A number too long for a float.
HUGE = "1" + "0" * 400


@pytest.fixture(scope="module")
def table() -> NutritionTable:
    return default_table()


def portion(table: NutritionTable, key: str) -> float:
    food = table.get(key)
    assert food is not None, f"the packaged table has {key}"
    return food.portion_g


def refusal(text: str, table: NutritionTable) -> str:
    """The reply to a typed entry the bot refuses; parsing it never raises, resolving it does."""
    entry = parse_quick_entry(text)
    assert entry is not None, text
    with pytest.raises(QuickEntryError) as caught:
        resolve_entry(entry, table)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def resolve(text: str, table: NutritionTable) -> Resolved:
    entry = parse_quick_entry(text)
    assert entry is not None, text
    resolved = resolve_entry(entry, table)
    assert resolved is not None, text
    return resolved


# --- parsing: the amount and the food words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "food_query", "amount"),
    [
        ("200 g rice", "rice", Amount(200, "g")),
        ("2 eggs", "eggs", Amount(2, "piece")),
        ("rice 150g", "rice", Amount(150, "g")),
        ("rice 150 g", "rice", Amount(150, "g")),
        ("1.5 cups milk", "milk", Amount(360, "ml")),
        ("a banana", "banana", Amount(1, "piece")),
        ("an apple", "apple", Amount(1, "piece")),
        ("half a pizza", "pizza", Amount(0.5, "piece")),
        ("½ pizza", "pizza", Amount(0.5, "piece")),
        ("1/2 avocado", "avocado", Amount(0.5, "piece")),
        ("300ml orange juice", "orange juice", Amount(300, "ml")),
        ("2 slices of bread", "bread", Amount(2, "piece")),
        ("coffee with milk", "coffee with milk", None),
        ("1 portion lasagna", "lasagna", Amount(1, "portion")),
        ("2 servings of pasta", "pasta", Amount(2, "portion")),
        ("0,5 kg chicken breast", "chicken breast", Amount(500, "g")),
        ("two eggs", "eggs", Amount(2, "piece")),
        ("ten almonds", "almonds", Amount(10, "piece")),
        ("eggs x2", "eggs", Amount(2, "piece")),
        ("2x eggs", "eggs", Amount(2, "piece")),
        ("3 pcs sushi", "sushi", Amount(3, "piece")),
        ("2 tbsp olive oil", "olive oil", Amount(30, "ml")),
        ("1 tsp sugar", "sugar", Amount(5, "ml")),
        ("a cup of coffee", "coffee", Amount(240, "ml")),
        ("1½ cups of milk", "milk", Amount(360, "ml")),
        ("1 1/2 cups oats", "oats", Amount(360, "ml")),
        ("one and a half cups rice", "rice", Amount(360, "ml")),
        ("3 oz steak", "steak", Amount(3 * 28.35, "g")),
        ("1 lb beef", "beef", Amount(453.59, "g")),
        ("2 dl milk", "milk", Amount(200, "ml")),
        ("33cl beer", "beer", Amount(330, "ml")),
        ("1 l water", "water", Amount(1000, "ml")),
        ("Rice, 150 g.", "rice", Amount(150, "g")),
        ("shepherd's pie", "shepherd's pie", None),
        ("stir-fry 200g", "stir fry", Amount(200, "g")),
        ("hello?", "hello", None),
    ],
)
def test_amount_and_food_words_are_split(text: str, food_query: str, amount: Amount | None) -> None:
    entry = parse_quick_entry(text)
    assert entry is not None
    assert entry.food_query == food_query
    assert entry.text == text.strip()
    if amount is None:
        assert entry.amount is None
    else:
        assert entry.amount is not None
        assert entry.amount.unit == amount.unit
        assert entry.amount.value == pytest.approx(amount.value)


@pytest.mark.parametrize("text", ["", "   ", "200 g", "2", "1,5 kg", "?!", "a"])
def test_no_food_words_means_no_entry(text: str) -> None:
    assert parse_quick_entry(text) is None


@pytest.mark.parametrize("text", ["500 mg rice", "500mg salt", "500 mg"])
def test_milligrams_are_refused_kindly(table: NutritionTable, text: str) -> None:
    assert refusal(text, table).startswith("Milligrams are too small")


def test_entries_are_frozen() -> None:
    entry = parse_quick_entry("2 eggs")
    assert entry is not None
    assert entry == QuickEntry("2 eggs", "eggs", Amount(2, "piece"))
    with pytest.raises(AttributeError):
        entry.food_query = "rice"  # type: ignore[misc]


# --- resolving: the food and its grams in the real table --------------------------------------------------


def test_grams_are_taken_as_typed(table: NutritionTable) -> None:
    resolved = resolve("200 g rice", table)
    assert resolved.food.key == "rice"
    assert resolved.grams == 200
    assert resolve("rice 150g", table).grams == 150
    assert resolve("0,5 kg chicken breast", table).food.key == "chicken_breast"
    assert resolve("0,5 kg chicken breast", table).grams == 500


def test_a_count_is_that_many_default_portions(table: NutritionTable) -> None:
    resolved = resolve("2 eggs", table)
    assert resolved.food.key == "egg"
    assert resolved.grams == pytest.approx(2 * portion(table, "egg"))
    assert resolve("two eggs", table).grams == pytest.approx(2 * portion(table, "egg"))
    assert resolve("eggs x2", table).grams == pytest.approx(2 * portion(table, "egg"))


def test_slices_count_portions_of_the_food(table: NutritionTable) -> None:
    resolved = resolve("2 slices of bread", table)
    assert resolved.food.key == "bread"
    assert resolved.grams == pytest.approx(2 * portion(table, "bread"))


def test_fractions_of_a_portion(table: NutritionTable) -> None:
    resolved = resolve("half a pizza", table)
    assert resolved.food.key == "pizza"
    assert resolved.grams == pytest.approx(0.5 * portion(table, "pizza"), abs=0.01)
    assert resolve("½ pizza", table).grams == pytest.approx(resolved.grams)


def test_no_amount_is_one_default_portion(table: NutritionTable) -> None:
    resolved = resolve("a banana", table)
    assert resolved.food.key == "banana"
    assert resolved.grams == pytest.approx(portion(table, "banana"))
    bare = resolve("banana", table)
    assert bare.food.key == "banana"
    assert bare.grams == pytest.approx(portion(table, "banana"))


def test_portions_multiply_the_default_portion(table: NutritionTable) -> None:
    resolved = resolve("1 portion lasagna", table)
    assert resolved.food.key == "lasagna"
    assert resolved.grams == pytest.approx(portion(table, "lasagna"))
    assert resolve("2 servings of lasagna", table).grams == pytest.approx(2 * portion(table, "lasagna"))


def test_volumes_weigh_one_gram_per_millilitre(table: NutritionTable) -> None:
    juice = resolve("300ml orange juice", table)
    assert juice.food.key == "orange_juice"
    assert juice.grams == 300
    milk = resolve("1.5 cups milk", table)
    assert milk.food.key == "milk"
    assert milk.grams == 360
    assert resolve("2 tbsp olive oil", table).grams == 30


def test_a_dish_named_with_several_words_is_found(table: NutritionTable) -> None:
    resolved = resolve("coffee with milk", table)
    assert resolved.food.key == "coffee_with_milk"
    assert resolved.grams == pytest.approx(portion(table, "coffee_with_milk"))
    assert resolve("2 large eggs", table).food.key == "egg"


def test_a_count_means_the_things_when_the_portion_holds_several(table: NutritionTable) -> None:
    # "1 ounce (23 almonds)": ten almonds are ten nuts, not ten ounces.
    almonds = table.get("almonds")
    assert almonds is not None and "23" in almonds.portion_name
    assert piece_grams(almonds) == pytest.approx(almonds.portion_g / 23)
    assert resolve("ten almonds", table).grams == pytest.approx(10 * almonds.portion_g / 23, abs=0.01)
    # "6 pieces": three pieces of sushi are half a portion.
    assert resolve("3 pcs sushi", table).grams == pytest.approx(portion(table, "sushi") / 2)
    # A portion of one thing is that thing; "1 portion" is always the whole default portion.
    egg = table.get("egg")
    assert egg is not None and piece_grams(egg) == egg.portion_g
    assert resolve("2 portions sushi", table).grams == pytest.approx(2 * portion(table, "sushi"))


def test_unknown_food_resolves_to_nothing(table: NutritionTable) -> None:
    entry = parse_quick_entry("hello?")
    assert entry is not None
    assert resolve_entry(entry, table) is None
    nonsense = parse_quick_entry("200 g xqzvkw")
    assert nonsense is not None
    assert resolve_entry(nonsense, table) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 g rice", "more than zero"),
        ("-5 g rice", "more than zero"),
        ("9 kg rice", "That's more than 5 kg — type the grams of one meal."),
        ("6 l milk", "more than 5 kg"),
        ("200 rice", "more than 5 kg — for grams, type 200 g rice"),
    ],
)
def test_impossible_amounts_raise_a_friendly_error(table: NutritionTable, text: str, message: str) -> None:
    entry = parse_quick_entry(text)
    assert entry is not None
    with pytest.raises(QuickEntryError, match=message) as caught:
        resolve_entry(entry, table)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "echoed"),
    [
        ("1e309 g rice", "1e309"),
        ("1e+309 g rice", "1e309"),
        ("NaN g rice", "nan"),
        ("inf g", "inf"),
        ("-inf g rice", "inf"),
        ("infinity rice", "infinity"),
        ("1/0 rice", "1/0"),
        ("rice 1/0", "1/0"),
        ("1e5 g rice", "1e5"),
        ("1e-5 g rice", "1e-5"),
        ("rice 1e3g", "1e3g"),
        ("2 1/0 cups rice", "1/0"),
        ("1.2.3 rice", "1.2.3"),
    ],
)
def test_numbers_that_are_no_amount_are_refused_not_read_as_a_default_portion(
    table: NutritionTable, text: str, echoed: str
) -> None:
    assert refusal(text, table) == (
        f"I can't use “{echoed}” as an amount: type grams between 1 and 5000, like 150 g rice."
    )


def test_a_number_too_long_for_a_float_is_refused_and_echoed_clipped(table: NutritionTable) -> None:
    for text in (f"{HUGE} g rice", f"{HUGE}/1 rice", f"eggs x{HUGE}"):
        refused = refusal(text, table)
        assert "between 1 and 5000" in refused
        echoed = refused.split("“")[1].split("”")[0]
        assert len(echoed) == 40 and echoed.endswith("…"), echoed


def test_naan_spelled_nan_is_still_a_food(table: NutritionTable) -> None:
    assert resolve("nan", table).food.key == "naan"
    assert resolve("2 nan", table).grams == pytest.approx(2 * portion(table, "naan"))


def test_a_negative_amount_names_the_sensible_range(table: NutritionTable) -> None:
    assert refusal("-100 g rice", table).startswith(
        "The amount has to be more than zero — type grams between"
    )


def test_the_food_words_in_a_reply_are_clipped(table: NutritionTable) -> None:
    entry = parse_quick_entry("200 " + "rice " * 30)
    assert entry is not None
    with pytest.raises(QuickEntryError) as caught:
        resolve_entry(entry, table)
    assert len(str(caught.value)) < 100
    assert "rice rice…" in str(caught.value)


def test_an_echo_is_one_line_of_at_most_forty_characters() -> None:
    assert echo("  150 \n  g ") == "150 g"
    assert echo("x" * 40) == "x" * 40
    assert echo("x" * 41) == "x" * 39 + "…"


def test_exactly_five_kg_is_still_allowed(table: NutritionTable) -> None:
    assert resolve("5 kg rice", table).grams == 5000


# --- the "type grams" prompt ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("150", 150),
        ("150 g", 150),
        ("150g", 150),
        ("150 grams", 150),
        (" 150 g. ", 150),
        ("0.2 kg", 200),
        ("1,5 kg", 1500),
        ("1.5kg", 1500),
        ("½ kg", 500),
        ("72.5", 72.5),
        ("5000", 5000),
        ("6 oz", 170.1),
    ],
)
def test_grams_prompt_reads_weights(text: str, grams: float) -> None:
    assert parse_grams(text) == pytest.approx(grams)


@pytest.mark.parametrize(
    "text",
    [
        *("", "abc", "150 ml", "150 g rice", "0", "0 g", "-5", "5001", "6 kg", "150 mg", "1/0", "two"),
        *("nan", "NaN g", "inf", "-inf", "1e309", "1e5", "1e2", "-100", HUGE, HUGE + "/1"),
    ],
)
def test_grams_prompt_refuses_everything_else(text: str) -> None:
    assert parse_grams(text) is None
