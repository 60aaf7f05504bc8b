"""Typed foods ("200 g rice", "2 eggs", "half a pizza") become a food from the real table and its grams."""

from __future__ import annotations

from pathlib import Path

import pytest

from meallog.food_index import FoodIndex
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


def test_half_a_pizza_is_half_of_a_whole_pizza_not_half_a_slice(table: NutritionTable) -> None:
    # Found by a new user: "half a pizza" used to log half of the table's portion, one slice (54 g).
    whole = resolve("a whole pizza", table)
    assert whole.food.key == "pizza"
    assert whole.grams == pytest.approx(8 * portion(table, "pizza")), "a 14-inch pizza of 8 slices"
    resolved = resolve("half a pizza", table)
    assert resolved.food.key == "pizza"
    assert resolved.grams == pytest.approx(whole.grams / 2)
    for text in ("½ pizza", "1/2 pizza", "a half pizza"):
        assert resolve(text, table).grams == pytest.approx(resolved.grams), text
    assert resolve("a pizza", table).grams == pytest.approx(whole.grams)
    assert resolve("a slice of pizza", table).grams == pytest.approx(portion(table, "pizza"))
    assert resolve("pizza", table).grams == pytest.approx(portion(table, "pizza")), "no amount: a slice"


def test_half_of_a_food_that_comes_whole_is_half_of_one(table: NutritionTable) -> None:
    assert resolve("half a banana", table).grams == pytest.approx(portion(table, "banana") / 2)
    assert resolve("1/2 avocado", table).grams == pytest.approx(portion(table, "avocado") / 2)
    assert resolve("half a baguette", table).grams == pytest.approx(2 * portion(table, "baguette"))


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


def test_volumes_weigh_what_the_food_weighs_per_cup_or_spoon(table: NutritionTable) -> None:
    # A cup of orange juice is 248 g and a tablespoon of oil 14 g (USDA): volumes use the food's own
    # measure, where the quick entry once took every food at 1 g/ml.
    juice = resolve("300ml orange juice", table)
    assert juice.food.key == "orange_juice"
    assert juice.grams == pytest.approx(300 * 248 / 240, abs=0.01)
    milk = resolve("1.5 cups milk", table)
    assert milk.food.key == "milk"
    assert milk.grams == pytest.approx(1.5 * portion(table, "milk"))
    assert resolve("2 tbsp olive oil", table).grams == pytest.approx(2 * portion(table, "olive_oil"))
    assert resolve("1 cup rice", table).grams == pytest.approx(portion(table, "rice")), "158 g, not 240"
    assert resolve("1 l water", table).grams == 1000, "a food with no measure of its own: 1 g/ml"


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


# --- amounts the way people say them ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "food_query", "amount"),
    [
        ("about 200g rice", "rice", Amount(200, "g")),
        ("~200 g rice", "rice", Amount(200, "g")),
        ("approx. 2 cups rice", "rice", Amount(480, "ml", "cup", "cups")),
        ("rice about 150 g", "rice", Amount(150, "g")),
        ("2 cups of milk", "milk", Amount(480, "ml", "cup", "cups")),
        ("a whole pizza", "pizza", Amount(1, "piece", "whole", "whole")),
        ("a slice of pizza", "pizza", Amount(1, "piece", "slice", "slice")),
        ("slice of pizza", "pizza", Amount(1, "piece", "slice", "slice")),
        ("2 pizza slices", "pizza", Amount(2, "piece", "slice", "slices")),
        ("2 large slices of pizza", "pizza", Amount(2, "piece", "slice", "slices")),
        ("a handful of almonds", "almonds", Amount(1, "piece", "handful", "handful")),
        ("2 tbsp peanut butter", "peanut butter", Amount(30, "ml", "tbsp", "tbsp")),
        ("a glass of milk", "milk", Amount(1, "piece", "glass", "glass")),
        ("a big glass of milk", "milk", Amount(1, "piece", "glass", "glass")),
        ("a bowl of rice", "rice", Amount(1, "piece", "bowl", "bowl")),
        ("2 large eggs", "eggs", Amount(2, "piece", "large", "large")),
        ("2 large eggs (100 g)", "eggs", Amount(100, "g")),
        ("2 eggs (approx. 110g)", "eggs", Amount(110, "g")),
        ("3 slices of bread", "bread", Amount(3, "piece", "slice", "slices")),
        ("a can of coke", "coke", Amount(1, "piece", "can", "can")),
        ("12 fl oz coke", "coke", Amount(12 * 29.5735, "ml")),
        ("pizza 2 slices", "pizza", Amount(2, "piece", "slice", "slices")),
        ("2 eggs (scrambled)", "eggs scrambled", Amount(2, "piece")),
    ],
)
def test_amounts_are_read_the_way_people_say_them(text: str, food_query: str, amount: Amount) -> None:
    entry = parse_quick_entry(text)
    assert entry is not None
    assert entry.food_query == food_query
    assert entry.text == text.strip()
    assert entry.amount is not None
    assert (entry.amount.unit, entry.amount.measure, entry.amount.word) == (
        amount.unit,
        amount.measure,
        amount.word,
    )
    assert entry.amount.value == pytest.approx(amount.value)


@pytest.mark.parametrize(
    ("text", "key", "grams"),
    [
        ("about 200g rice", "rice", 200),
        ("~200 g rice", "rice", 200),
        ("2 cups of milk", "milk", 488),
        ("a whole pizza", "pizza", 856),
        ("half a pizza", "pizza", 428),
        ("a slice of pizza", "pizza", 107),
        ("2 pizza slices", "pizza", 214),
        ("a small pizza", "pizza", 437),
        ("a handful of almonds", "almonds", 30),
        ("2 tbsp peanut butter", "peanut_butter", 32),
        ("a glass of milk", "milk", 244),
        ("a bowl of rice", "rice", 150),
        ("2 large eggs", "egg", 100),
        ("2 medium eggs", "egg", 88),
        ("2 large eggs (100 g)", "egg", 100),
        ("2 large eggs (120 g)", "egg", 120),
        ("3 slices of bread", "bread", 84),
        ("a can of coke", "cola", 368),
        ("a can of tuna", "tuna", 165),
        ("a pat of butter", "butter", 5),
        ("a big apple", "apple", 223),
        ("5 strawberries", "strawberries", 60),
        ("10 peanuts", "peanuts", 10),
        ("a bottle of red wine", "red_wine", 735),
    ],
)
def test_typed_amounts_weigh_what_that_food_weighs(
    table: NutritionTable, text: str, key: str, grams: float
) -> None:
    resolved = resolve(text, table)
    assert resolved.food.key == key
    assert resolved.grams == pytest.approx(grams, abs=0.01)


@pytest.mark.parametrize(
    ("phrase", "key", "grams"),
    [
        # One phrase of a longer meal, as the multi-food splitter hands it over.
        ("150g chicken breast", "chicken_breast", 150),
        ("salad", "green_salad", 85),
        ("a bowl of oatmeal", "oats", 234),
        ("banana", "banana", 118),
        ("2 slices of toast", "toast", 50),
        ("butter", "butter", 14),  # one tablespoon, not an ounce
        ("a pat of butter", "butter", 5),
        ("a cup of coffee", "coffee", 240),
    ],
)
def test_one_phrase_of_a_meal_gets_a_sensible_amount(
    table: NutritionTable, phrase: str, key: str, grams: float
) -> None:
    resolved = resolve(phrase, table)
    assert resolved.food.key == key
    assert resolved.grams == pytest.approx(grams)


def test_a_unit_word_that_is_part_of_a_food_name_stays_in_the_name(table: NutritionTable) -> None:
    cupcakes = resolve("2 cup cakes", table)
    assert cupcakes.food.key == "cup_cakes"
    assert cupcakes.grams == pytest.approx(2 * portion(table, "cup_cakes")), (
        "two cupcakes, not 2 cups of cake"
    )
    assert resolve("a whole milk", table).grams == pytest.approx(portion(table, "milk"))
    wholemeal = resolve("2 whole wheat bread", table)
    assert wholemeal.food.key == "whole_wheat_bread"
    assert wholemeal.grams == pytest.approx(2 * portion(table, "whole_wheat_bread"))
    assert wholemeal.query == "whole wheat bread", "the words the food was found by"
    # A size before a food's own name stays a size: "large eggs" and "small pizza" are no foods.
    eggs = resolve("2 large eggs", table)
    assert (eggs.query, eggs.grams) == ("eggs", 100)
    assert resolve("a small pizza", table).query == "pizza"


def test_a_weight_in_parentheses_is_refused_like_any_other(table: NutritionTable) -> None:
    assert refusal("2 eggs (500 mg)", table).startswith("Milligrams are too small")
    assert refusal("2 eggs (0 g)", table).startswith("The amount has to be more than zero")
    assert refusal("2 eggs (9000 g)", table).startswith("That's more than 5 kg")


def test_a_count_too_big_for_a_meal_is_still_refused_in_any_unit(table: NutritionTable) -> None:
    assert "more than 5 kg" in refusal("7 whole pizzas", table)
    assert "more than 5 kg" in refusal("2 watermelons", table)
    assert resolve("a whole watermelon", table).grams <= 5000


def test_with_all_of_fooddata_central_a_product_named_with_a_size_is_still_found(data_dir: Path) -> None:
    table = NutritionTable.load()
    table.attach_index(FoodIndex(data_dir / "foods-fdc.sqlite"))
    big_macs = resolve("2 big macs", table)
    assert "big mac" in big_macs.food.name.lower()
    assert big_macs.query == "big macs"
    assert big_macs.grams == pytest.approx(2 * big_macs.food.portion_g)
    assert resolve("2 large eggs", table).food.key == "egg"
    assert resolve("a small pizza", table).grams == 437
    assert resolve("half a pizza", table).grams == 428
    # A food of the index is weighed by its own portion ("2 tbsp") or, with none, at 1 g/ml.
    spread = resolve("2 tbsp almond butter", table)
    assert spread.food.key.startswith("fdc_")
    assert 20 <= spread.grams <= 40
