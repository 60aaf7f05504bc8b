"""Grams to macros and sums of macros: per-100 g arithmetic, kept in floats."""

from __future__ import annotations

import dataclasses
import math

import pytest

from meallog.nutrition import Food, default_table
from meallog.portions import Macros, macros_for, total

BREAD = Food(
    key="bread",
    name="White bread",
    kcal=270.0,
    protein_g=9.0,
    fat_g=3.3,
    carbs_g=50.0,
    portion_g=28.0,
    portion_name="1 slice",
)


def test_macros_scale_per_100_g() -> None:
    m = macros_for(BREAD, 50)
    assert m == Macros(kcal=135.0, protein_g=4.5, fat_g=1.65, carbs_g=25.0)


def test_150_g_of_rice_from_the_real_table() -> None:
    rice = default_table()["rice"]
    m = macros_for(rice, 150)
    assert m.kcal == pytest.approx(rice.kcal * 1.5)
    assert m.protein_g == pytest.approx(rice.protein_g * 1.5)
    assert m.fat_g == pytest.approx(rice.fat_g * 1.5)
    assert m.carbs_g == pytest.approx(rice.carbs_g * 1.5)
    # A cup-and-a-bit of cooked white rice: about 190 kcal and 42 g of carbohydrate.
    assert 170 <= m.kcal <= 215
    assert 35 <= m.carbs_g <= 50


def test_values_are_not_rounded() -> None:
    m = macros_for(BREAD, 33)
    assert m.kcal == pytest.approx(89.1)
    assert m.fat_g == pytest.approx(1.089)
    assert not float(m.fat_g).is_integer()


def test_zero_grams_is_zero_and_negative_grams_are_refused() -> None:
    assert macros_for(BREAD, 0) == Macros.zero()
    for grams in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="grams"):
            macros_for(BREAD, grams)


def test_adding_macros_adds_each_field() -> None:
    a = Macros(kcal=100.0, protein_g=1.0, fat_g=2.0, carbs_g=3.0)
    b = Macros(kcal=50.5, protein_g=0.5, fat_g=0.25, carbs_g=10.0)
    assert a + b == Macros(kcal=150.5, protein_g=1.5, fat_g=2.25, carbs_g=13.0)
    assert a + Macros.zero() == a
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]


def test_total_of_a_meal() -> None:
    rice = default_table()["rice"]
    parts = [macros_for(rice, 150), macros_for(BREAD, 28), Macros.zero()]
    meal = total(parts)
    assert meal.kcal == pytest.approx(rice.kcal * 1.5 + 270 * 0.28)
    assert meal.carbs_g == pytest.approx(rice.carbs_g * 1.5 + 50 * 0.28)
    assert total(iter(parts)) == meal


def test_total_of_nothing_is_zero() -> None:
    assert total([]) == Macros.zero() == Macros(kcal=0.0, protein_g=0.0, fat_g=0.0, carbs_g=0.0)


def test_macros_are_immutable() -> None:
    m = Macros.zero()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.kcal = 1.0  # type: ignore[misc]
