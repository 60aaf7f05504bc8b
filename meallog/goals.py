"""Daily targets: energy from the Mifflin-St Jeor equation and an activity factor, then macros.

Plain functions, no I/O. The person either types their targets or gives sex, age, height, weight,
activity level and aim, and `compute_goals` proposes:

1. Resting energy (BMR) by Mifflin-St Jeor, see `mifflin_st_jeor`.
2. Total daily energy: BMR × the activity factor (`ACTIVITY_FACTORS`).
3. The aim: −500 kcal a day to lose (about 0.5 kg a week), +300 to gain, nothing to keep; a losing
   target never goes below a floor of 1200 kcal (women) or 1500 kcal (men), the usual minimum without
   medical supervision.
4. Protein by body weight (1.6 g/kg when losing or gaining, 1.2 g/kg to keep; the ISSN position stand,
   Jäger et al. 2017, J Int Soc Sports Nutr 14:20, gives 1.4–2.0 g/kg for active people), fat at 30 %
   of energy (inside the 20–35 % range of the US Dietary Reference Intakes, IOM 2005), carbohydrate
   the rest, at 4/9/4 kcal per gram (Atwater factors).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from meallog.portions import Macros

KCAL_PER_G_PROTEIN = 4.0
KCAL_PER_G_FAT = 9.0
KCAL_PER_G_CARBS = 4.0
FAT_SHARE = 0.30


class Sex(StrEnum):
    MALE = "m"
    FEMALE = "f"


class Activity(StrEnum):
    """Activity levels, with the short codes buttons carry."""

    SEDENTARY = "sed"
    LIGHT = "light"
    MODERATE = "mod"
    ACTIVE = "act"
    VERY_ACTIVE = "very"


class Aim(StrEnum):
    LOSE = "lose"
    KEEP = "keep"
    GAIN = "gain"


#: The standard activity multipliers applied to BMR (as in McArdle, Katch & Katch, Exercise Physiology,
#: and most calculators since): little or no exercise 1.2; light exercise 1–3 days a week 1.375;
#: moderate, 3–5 days 1.55; hard, 6–7 days 1.725; very hard or a physical job 1.9.
ACTIVITY_FACTORS: dict[Activity, float] = {
    Activity.SEDENTARY: 1.2,
    Activity.LIGHT: 1.375,
    Activity.MODERATE: 1.55,
    Activity.ACTIVE: 1.725,
    Activity.VERY_ACTIVE: 1.9,
}

ACTIVITY_NAMES: dict[Activity, str] = {
    Activity.SEDENTARY: "Little or no exercise",
    Activity.LIGHT: "Light: 1–3 days a week",
    Activity.MODERATE: "Moderate: 3–5 days a week",
    Activity.ACTIVE: "Hard: 6–7 days a week",
    Activity.VERY_ACTIVE: "Very hard or physical job",
}

AIM_KCAL: dict[Aim, float] = {Aim.LOSE: -500.0, Aim.KEEP: 0.0, Aim.GAIN: 300.0}
PROTEIN_G_PER_KG: dict[Aim, float] = {Aim.LOSE: 1.6, Aim.KEEP: 1.2, Aim.GAIN: 1.6}
KCAL_FLOOR: dict[Sex, float] = {Sex.FEMALE: 1200.0, Sex.MALE: 1500.0}

#: What a person can plausibly type (anything else is a typo). Zero grams of a macro is allowed: a
#: no-carb diet is a real choice, while zero kcal, age, height or weight are not.
AGE_RANGE = (14, 100)
HEIGHT_CM_RANGE = (120.0, 230.0)
WEIGHT_KG_RANGE = (35.0, 250.0)
KCAL_RANGE = (800.0, 6000.0)
GRAMS_RANGE = (0.0, 1000.0)

#: Why typed targets or a body were refused when a "number" was none ("nan", "inf", "1e309").
GOALS_NOT_NUMBERS = (
    f"Those aren't numbers I can use: kcal must be {KCAL_RANGE[0]:g} to {KCAL_RANGE[1]:g}, "
    f"and protein, fat and carbs {GRAMS_RANGE[0]:g} to {GRAMS_RANGE[1]:g} g"
)
BODY_NOT_NUMBERS = (
    f"Those aren't numbers I can use: age must be {AGE_RANGE[0]} to {AGE_RANGE[1]} years, "
    f"height {HEIGHT_CM_RANGE[0]:g} to {HEIGHT_CM_RANGE[1]:g} cm and "
    f"weight {WEIGHT_KG_RANGE[0]:g} to {WEIGHT_KG_RANGE[1]:g} kg"
)


@dataclass(frozen=True, slots=True)
class Body:
    """What the equation needs."""

    sex: Sex
    age: int
    height_cm: float
    weight_kg: float

    def __post_init__(self) -> None:
        _within("age", self.age, AGE_RANGE, " years")
        _within("height", self.height_cm, HEIGHT_CM_RANGE, " cm")
        _within("weight", self.weight_kg, WEIGHT_KG_RANGE, " kg")


@dataclass(frozen=True)
class Goals(Macros):
    """Daily targets: the same kcal and grams as a day's `Macros`, so they print and compare alike."""

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 1) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Goals | None:
        """The goals stored in a person's record, or None when they have not set any."""
        try:
            return cls(
                kcal=float(data["kcal"]),
                protein_g=float(data["protein_g"]),
                fat_g=float(data["fat_g"]),
                carbs_g=float(data["carbs_g"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _within(name: str, value: float, bounds: tuple[float, float], unit: str = "") -> None:
    """ValueError, naming the sensible range, unless `value` is in `bounds` (NaN and infinity never are)."""
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        typed = f", not {value:g}" if math.isfinite(value) else ""
        raise ValueError(f"{name} must be between {low:g} and {high:g}{unit}{typed}")


def mifflin_st_jeor(body: Body) -> float:
    """Resting energy expenditure in kcal/day by the Mifflin-St Jeor equation.

    Mifflin MD, St Jeor ST, Hill LA, Scott BJ, Daugherty SA, Koh YO. "A new predictive equation for
    resting energy expenditure in healthy individuals." Am J Clin Nutr. 1990;51(2):241-247:

        BMR = 10 × weight (kg) + 6.25 × height (cm) − 5 × age (y) + s,   s = +5 for men, −161 for women.

    Example: a man of 30, 180 cm, 80 kg: 800 + 1125 − 150 + 5 = 1780 kcal/day.
    """
    s = 5.0 if body.sex is Sex.MALE else -161.0
    return 10.0 * body.weight_kg + 6.25 * body.height_cm - 5.0 * body.age + s


def daily_energy(body: Body, activity: Activity) -> float:
    """Total daily energy expenditure: BMR × the activity factor."""
    return mifflin_st_jeor(body) * ACTIVITY_FACTORS[activity]


def target_kcal(body: Body, activity: Activity, aim: Aim) -> float:
    """Daily energy for the aim, never below the floor for the person's sex when losing."""
    kcal = daily_energy(body, activity) + AIM_KCAL[aim]
    if aim is Aim.LOSE:
        kcal = max(kcal, KCAL_FLOOR[body.sex])
    return kcal


def macro_split(kcal: float, weight_kg: float, aim: Aim) -> Goals:
    """Protein by weight, fat at 30 % of energy, carbohydrate the rest (never negative)."""
    protein_g = PROTEIN_G_PER_KG[aim] * weight_kg
    fat_g = kcal * FAT_SHARE / KCAL_PER_G_FAT
    rest = kcal - protein_g * KCAL_PER_G_PROTEIN - fat_g * KCAL_PER_G_FAT
    return Goals(kcal=kcal, protein_g=protein_g, fat_g=fat_g, carbs_g=max(0.0, rest / KCAL_PER_G_CARBS))


def compute_goals(body: Body, activity: Activity, aim: Aim) -> Goals:
    """Targets for a person (see the module docstring), rounded to whole kcal and grams."""
    kcal = round(target_kcal(body, activity, aim))
    split = macro_split(kcal, body.weight_kg, aim)
    return Goals(
        kcal=float(kcal),
        protein_g=float(round(split.protein_g)),
        fat_g=float(round(split.fat_g)),
        carbs_g=float(round(split.carbs_g)),
    )


def typed_goals(kcal: float, protein_g: float | None, fat_g: float | None, carbs_g: float | None) -> Goals:
    """Targets the person typed. Missing protein is 20 % of energy, missing fat 30 %, missing carbs
    whatever energy is left (kcal alone: 20/30/50). Raises ValueError for values out of range."""
    _within("kcal", kcal, KCAL_RANGE)
    for name, grams in (("protein", protein_g), ("fat", fat_g), ("carbs", carbs_g)):
        if grams is not None:
            _within(name, grams, GRAMS_RANGE, " g")
    protein = float(protein_g if protein_g is not None else round(kcal * 0.20 / KCAL_PER_G_PROTEIN))
    fat = float(fat_g if fat_g is not None else round(kcal * FAT_SHARE / KCAL_PER_G_FAT))
    if carbs_g is None:
        rest = kcal - protein * KCAL_PER_G_PROTEIN - fat * KCAL_PER_G_FAT
        carbs_g = max(0.0, round(rest / KCAL_PER_G_CARBS))
    return Goals(kcal=float(kcal), protein_g=protein, fat_g=fat, carbs_g=float(carbs_g))


_LABELS = {
    "kcal": "kcal",
    "cal": "kcal",
    "calories": "kcal",
    "protein": "protein",
    "p": "protein",
    "fat": "fat",
    "f": "fat",
    "carbs": "carbs",
    "carb": "carbs",
    "carbohydrates": "carbs",
    "c": "carbs",
}
# A number keeps its minus sign (ASCII or U+2212) unless the sign joins it to a word or number before
# ("2000-2200" is no negative), and its exponent ("1e309"), so that both are refused, not dropped.
_TOKEN = re.compile(r"(?:(?<![\w.,])[-\u2212])?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?|[a-z]+")
_NOT_NUMBERS = frozenset({"nan", "inf", "infinity"})


def _numbers_and_words(text: str, refusal: str) -> list[float | str]:
    """The numbers and words of `text`; ValueError(`refusal`) for a number written so that Python would
    read it but a person hardly means it: an exponent, NaN or infinity (or digits too many for a float).
    """
    tokens: list[float | str] = []
    for raw in _TOKEN.findall(text.lower()):
        if raw in _NOT_NUMBERS or (raw[-1].isdigit() and "e" in raw):
            raise ValueError(refusal)
        if raw[-1].isdigit():
            number = float(raw.replace(",", ".").replace("\u2212", "-"))
            if not math.isfinite(number):
                raise ValueError(refusal)
            tokens.append(number)
        else:
            tokens.append(raw)
    return tokens


def parse_typed_goals(text: str) -> Goals | None:
    """Targets typed as `2000`, `2000 120 70 230` (kcal, protein, fat, carbs), or labelled:
    `2000 kcal, 120 g protein, 70 fat` or `kcal 2000 protein 120`.

    None when the text is not of that shape or names no kcal; ValueError (a message naming the sensible
    range) for values out of range, negative, or no number at all ("nan kcal", "1e309").
    """
    tokens: list[float | str] = []
    for token in _numbers_and_words(text, GOALS_NOT_NUMBERS):
        if isinstance(token, float):
            tokens.append(token)
        elif token != "g":
            label = _LABELS.get(token)
            if label is None:
                return None
            tokens.append(label)
    numbers = [t for t in tokens if isinstance(t, float)]
    labels = [t for t in tokens if isinstance(t, str)]
    if not numbers:
        return None
    values: dict[str, float] = {}
    if not labels:
        if len(numbers) not in (1, 4):
            return None
        values = dict(zip(("kcal", "protein", "fat", "carbs"), numbers, strict=False))
    else:
        # Labels either all precede or all follow their numbers, decided by the first token.
        pairs = list(zip(tokens[::2], tokens[1::2], strict=False))
        if len(tokens) % 2 or len(set(labels)) != len(labels):
            return None
        labels_first = isinstance(tokens[0], str)
        for first, second in pairs:
            key, number = (first, second) if labels_first else (second, first)
            if not isinstance(key, str) or not isinstance(number, float):
                return None
            values[key] = number
    if "kcal" not in values:
        return None
    return typed_goals(values["kcal"], values.get("protein"), values.get("fat"), values.get("carbs"))


_BODY_UNITS = {"y", "yr", "yrs", "years", "year", "yo", "cm", "kg", "age", "height", "weight"}


def parse_body(text: str, sex: Sex) -> Body | None:
    """`34 180 75` or `34 y, 180 cm, 75 kg`: age, height in cm and weight in kg, in that order.

    None when the text is not three numbers (with optional units); ValueError when one is implausible,
    negative, or no number at all ("nan", "1e309").
    """
    numbers: list[float] = []
    for token in _numbers_and_words(text, BODY_NOT_NUMBERS):
        if isinstance(token, float):
            numbers.append(token)
        elif token not in _BODY_UNITS:
            return None
    if len(numbers) != 3:
        return None
    age, height, weight = numbers
    _within("age", age, AGE_RANGE, " years")  # before int(), which a huge age would overflow
    if age != int(age):
        raise ValueError("age must be a whole number of years")
    return Body(sex=sex, age=int(age), height_cm=height, weight_kg=weight)
