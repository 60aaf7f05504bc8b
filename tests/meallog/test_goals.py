"""Goals: Mifflin-St Jeor with activity factors and aims against worked examples, and typed targets."""

from __future__ import annotations

import pytest

from meallog.goals import (
    ACTIVITY_FACTORS,
    Activity,
    Aim,
    Body,
    Goals,
    Sex,
    compute_goals,
    daily_energy,
    macro_split,
    mifflin_st_jeor,
    parse_body,
    parse_typed_goals,
    target_kcal,
)

MAN = Body(Sex.MALE, age=30, height_cm=180, weight_kg=80)
WOMAN = Body(Sex.FEMALE, age=25, height_cm=165, weight_kg=60)


def test_mifflin_st_jeor_worked_examples() -> None:
    # 10 × 80 + 6.25 × 180 − 5 × 30 + 5 = 800 + 1125 − 150 + 5
    assert mifflin_st_jeor(MAN) == pytest.approx(1780.0)
    # 10 × 60 + 6.25 × 165 − 5 × 25 − 161 = 600 + 1031.25 − 125 − 161
    assert mifflin_st_jeor(WOMAN) == pytest.approx(1345.25)
    # Same body, the sexes differ by 166 kcal (+5 against −161).
    same = Body(Sex.FEMALE, age=30, height_cm=180, weight_kg=80)
    assert mifflin_st_jeor(MAN) - mifflin_st_jeor(same) == pytest.approx(166.0)


def test_the_standard_activity_factors() -> None:
    assert [ACTIVITY_FACTORS[a] for a in Activity] == [1.2, 1.375, 1.55, 1.725, 1.9]
    assert daily_energy(MAN, Activity.MODERATE) == pytest.approx(1780 * 1.55)  # 2759
    assert daily_energy(WOMAN, Activity.LIGHT) == pytest.approx(1345.25 * 1.375)  # 1849.72


def test_aims_move_the_energy_and_losing_has_a_floor() -> None:
    assert target_kcal(MAN, Activity.MODERATE, Aim.KEEP) == pytest.approx(2759.0)
    assert target_kcal(MAN, Activity.MODERATE, Aim.LOSE) == pytest.approx(2259.0)
    assert target_kcal(MAN, Activity.MODERATE, Aim.GAIN) == pytest.approx(3059.0)
    small = Body(Sex.FEMALE, age=70, height_cm=150, weight_kg=45)  # BMR 450 + 937.5 − 350 − 161 = 876.5
    assert target_kcal(small, Activity.SEDENTARY, Aim.LOSE) == 1200.0  # 1051.8 − 500 is under the floor


def test_a_full_worked_example_with_macros() -> None:
    goals = compute_goals(MAN, Activity.MODERATE, Aim.KEEP)
    # 2759 kcal; protein 1.2 g/kg × 80 = 96 g; fat 30 % = 827.7 kcal / 9 = 92 g;
    # carbs (2759 − 384 − 827.7) / 4 = 386.8 g
    assert goals == Goals(kcal=2759.0, protein_g=96.0, fat_g=92.0, carbs_g=387.0)
    losing = compute_goals(WOMAN, Activity.LIGHT, Aim.LOSE)
    # 1849.72 − 500 = 1349.72 → 1350 kcal; protein 1.6 × 60 = 96 g; fat 405 / 9 = 45 g;
    # carbs (1350 − 384 − 405) / 4 = 140.25 g
    assert losing == Goals(kcal=1350.0, protein_g=96.0, fat_g=45.0, carbs_g=140.0)
    macros = losing.protein_g * 4 + losing.fat_g * 9 + losing.carbs_g * 4
    assert macros == pytest.approx(losing.kcal, abs=5), "the macros add up to the energy"


def test_carbohydrate_never_goes_negative() -> None:
    split = macro_split(1000.0, weight_kg=200.0, aim=Aim.GAIN)  # 320 g protein alone is 1280 kcal
    assert split.carbs_g == 0.0


def test_implausible_bodies_are_refused() -> None:
    with pytest.raises(ValueError, match="age"):
        Body(Sex.MALE, age=7, height_cm=120, weight_kg=30)
    with pytest.raises(ValueError, match="height"):
        Body(Sex.MALE, age=30, height_cm=18, weight_kg=80)
    with pytest.raises(ValueError, match="weight"):
        Body(Sex.MALE, age=30, height_cm=180, weight_kg=800)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2000", Goals(2000, 100, 67, 249)),
        ("2000 120 70 230", Goals(2000, 120, 70, 230)),
        ("2000 kcal, 120 g protein, 70 fat", Goals(2000, 120, 70, 222)),
        ("kcal 1800 protein 140", Goals(1800, 140, 60, 175)),
        ("2200kcal 150g protein", Goals(2200, 150, 73, 236)),
    ],
)
def test_typed_targets(text: str, expected: Goals) -> None:
    assert parse_typed_goals(text) == expected


@pytest.mark.parametrize("text", ["hello", "2 eggs", "protein 120", "2000 120", "kcal kcal 2000 2000"])
def test_text_that_is_not_targets(text: str) -> None:
    assert parse_typed_goals(text) is None


def test_typed_targets_out_of_range() -> None:
    with pytest.raises(ValueError, match="kcal"):
        parse_typed_goals("20000")


def test_body_numbers() -> None:
    assert parse_body("34 180 75", Sex.MALE) == Body(Sex.MALE, 34, 180.0, 75.0)
    assert parse_body("34 y, 180 cm, 75,5 kg", Sex.FEMALE) == Body(Sex.FEMALE, 34, 180.0, 75.5)
    assert parse_body("180 75", Sex.MALE) is None
    assert parse_body("two eggs", Sex.MALE) is None
    with pytest.raises(ValueError, match="height"):
        parse_body("34 75 180", Sex.MALE)


def test_goals_round_trip_through_the_person_record() -> None:
    goals = Goals(2000, 120, 70, 230)
    assert Goals.from_dict(goals.as_dict()) == goals
    assert Goals.from_dict({}) is None
    assert Goals.from_dict({"kcal": "lots"}) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-2000 kcal", "kcal must be between 800 and 6000, not -2000"),
        ("kcal -2000", "kcal must be between 800 and 6000, not -2000"),
        ("\u22122000", "kcal must be between 800 and 6000, not -2000"),
        ("0 kcal", "kcal must be between 800 and 6000, not 0"),
        ("2000 kcal, -50 fat", "fat must be between 0 and 1000 g, not -50"),
        ("nan kcal", "Those aren't numbers I can use: kcal must be 800 to 6000"),
        ("inf", "Those aren't numbers I can use"),
        ("1e309 kcal", "Those aren't numbers I can use"),
        ("1e3", "Those aren't numbers I can use"),
        ("1" + "0" * 400, "Those aren't numbers I can use"),
    ],
)
def test_negative_or_no_number_targets_are_refused_with_the_range(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_typed_goals(text)


def test_a_dash_between_numbers_is_no_minus_sign() -> None:
    assert parse_typed_goals("2000-2200") is None, "two numbers, not 2000 and -2200"
    assert parse_body("34-180-75", Sex.MALE) == Body(Sex.MALE, 34, 180.0, 75.0)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-34 180 75", "age must be between 14 and 100 years, not -34"),
        ("34 -180 75", "height must be between 120 and 230 cm, not -180"),
        ("34 180 \u221275", "weight must be between 35 and 250 kg, not -75"),
        ("0 0 0", "age must be between 14 and 100 years, not 0"),
        ("nan 180 75", "Those aren't numbers I can use: age must be 14 to 100 years"),
        ("34 inf 75", "Those aren't numbers I can use"),
        ("1" + "0" * 400 + " 180 75", "Those aren't numbers I can use"),
        ("1e2 180 75", "Those aren't numbers I can use"),
    ],
)
def test_negative_or_no_number_bodies_are_refused_with_the_range(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_body(text, Sex.FEMALE)
