"""What the stores hand out: frozen views of people, meals and corrections, and how they are made.

The Telegram layer and training only ever see these, never ORM objects, so nothing outside
`meallog.store` can lazy-load a relation or write a row by accident. The dicts in a view are copies.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from meallog.db.models import Correction, Meal, MealItem, MealStatus, User
from meallog.nutrition import NutritionTable
from meallog.portions import Macros, total
from meallog.prompts import Prompt
from meallog.summary_times import DEFAULT_SUMMARY_MINUTE


@dataclass(frozen=True, slots=True)
class NewItem:
    """A food to put into a new draft: its table key, grams, where it came from and the model's score.

    `message_id`: the person's message that named it when that is not the meal's own message (the
    caption of a photo: editing the caption then replaces just these foods, not the model's).
    """

    food_key: str
    grams: float
    source: str = "model"
    confidence: float | None = None
    message_id: int | None = None


def with_caption_foods(model: Sequence[NewItem], caption: Sequence[NewItem]) -> list[NewItem]:
    """A photo's foods when its caption names some: the caption's first, with their amounts, then the
    model's other foods. Where the two name the same food the caption wins (it was typed by someone who
    saw the plate); a food the model saw that the caption leaves out stays, one tap from removal."""
    named = {item.food_key for item in caption}
    return [*caption, *(item for item in model if item.food_key not in named)]


@dataclass(frozen=True, slots=True)
class UserView:
    """A person as the bot sees them. The dicts are copies; change them through `PeopleStore`."""

    id: int
    chat_id: int
    timezone: str
    settings: dict[str, Any]
    goals: dict[str, Any]
    #: What their next typed text answers (`meallog.prompts`).
    pending: Prompt | None
    blocked_at: datetime | None
    #: The daily summary: wall time in minutes after local midnight, on/off, the last local day summed up.
    summary_minute: int = DEFAULT_SUMMARY_MINUTE
    summaries_on: bool = True
    summary_last_date: date | None = None
    #: Bumped by every change to the person's own foods (`meallog.store.my_foods`).
    my_foods_version: int = 0


@dataclass(frozen=True, slots=True)
class ItemView:
    """One food of a meal: `name`/`portion_name` from the table now, `macros` as stored with the item."""

    id: int
    position: int
    food_key: str
    name: str
    grams: float
    portion_name: str
    macros: Macros
    source: str
    confidence: float | None


@dataclass(frozen=True, slots=True)
class PredictionView:
    """What the model said about the meal's photo: ranked (food key, confidence) and raw (label, score)."""

    bundle_id: str
    foods: tuple[tuple[str, float], ...]
    labels: tuple[tuple[str, float], ...]
    no_food: bool


@dataclass(frozen=True, slots=True)
class MealView:
    """A meal with its items in order; times are aware UTC."""

    id: int
    user_id: int
    status: MealStatus
    eaten_at: datetime
    local_date: date
    caption: str | None
    photo_file_id: str | None
    photo_unique_id: str | None
    card_chat_id: int | None
    card_message_id: int | None
    items: tuple[ItemView, ...]
    prediction: PredictionView | None
    #: Bumped by every change of a draft; the card's buttons carry it (`bot.callbacks`).
    version: int = 1
    #: The person's message the meal came from, if it came from one.
    source_message_id: int | None = None
    #: For a saved meal reopened to be changed: the saved meal this draft copy replaces once saved.
    replaces_meal_id: int | None = None

    @property
    def total(self) -> Macros:
        """The meal's macros: the sum of its items."""
        return total(item.macros for item in self.items)


@dataclass(frozen=True, slots=True)
class CorrectionView:
    """A person's answer to the model for one food of a photo (the rules: `meallog.store.corrections`).

    `kind` is "changed" (model_key → final_key), "removed" (final_key None) or "added" (model_key None).
    `meal_id` is None once the meal is deleted.
    """

    id: int
    user_id: int
    meal_id: int | None
    photo_file_id: str
    photo_unique_id: str | None
    bundle_id: str
    model_foods: tuple[tuple[str, float], ...]
    model_key: str | None
    final_key: str | None
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SummaryClaim:
    """A person whose daily summary this process claimed: send it, then report a `SummaryOutcome`."""

    user_id: int
    chat_id: int
    timezone: str
    summary_minute: int
    due_at: datetime
    claimed_at: datetime
    last_date: date | None
    settings: dict[str, Any]
    goals: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """What became of a claimed summary.

    `next_due_at` None releases the claim and keeps the summary due (a later tick tries again);
    otherwise the summary is done and the next one falls due then. `day` records the local day as
    summed up (sent, or deliberately silent); `blocked` marks the person as having blocked the bot.
    """

    user_id: int
    claimed_at: datetime
    next_due_at: datetime | None
    day: date | None = None
    blocked: bool = False


def _pairs(rows: Iterable[Sequence[Any]]) -> tuple[tuple[str, float], ...]:
    return tuple((str(key), float(score)) for key, score in rows)


def stored_macros(item: MealItem) -> Macros:
    """The macros stored with the item (frozen when its meal was saved), not the table's now."""
    return Macros(kcal=item.kcal, protein_g=item.protein_g, fat_g=item.fat_g, carbs_g=item.carbs_g)


def user_view(user: User) -> UserView:
    """The person, with copies of their dicts so a caller's change cannot reach the row."""
    return UserView(
        id=user.id,
        chat_id=user.chat_id,
        timezone=user.timezone,
        settings=copy.deepcopy(user.settings),
        goals=copy.deepcopy(user.goals),
        pending=Prompt.from_json(user.pending),
        blocked_at=user.blocked_at,
        summary_minute=user.summary_minute,
        summaries_on=user.summaries_on,
        summary_last_date=user.summary_last_date,
        my_foods_version=user.my_foods_version or 0,
    )


def correction_view(row: Correction) -> CorrectionView:
    """The correction row as training reads it."""
    return CorrectionView(
        id=row.id,
        user_id=row.user_id,
        meal_id=row.meal_id,
        photo_file_id=row.photo_file_id,
        photo_unique_id=row.photo_unique_id,
        bundle_id=row.bundle_id,
        model_foods=_pairs(row.model_foods),
        model_key=row.model_key,
        final_key=row.final_key,
        kind=row.kind,
        created_at=row.created_at,
    )


def meal_view(meal: Meal, table: NutritionTable) -> MealView:
    """The meal with its items in order (loaded with `meallog.store.base.meals_query`), named from `table`."""
    prediction = None
    if meal.prediction is not None:
        prediction = PredictionView(
            bundle_id=meal.prediction.bundle_id,
            foods=_pairs(meal.prediction.foods),
            labels=_pairs(meal.prediction.labels),
            no_food=meal.prediction.no_food,
        )
    return MealView(
        id=meal.id,
        user_id=meal.user_id,
        status=MealStatus(meal.status),
        eaten_at=meal.eaten_at,
        local_date=meal.local_date,
        caption=meal.caption,
        photo_file_id=meal.photo_file_id,
        photo_unique_id=meal.photo_unique_id,
        card_chat_id=meal.card_chat_id,
        card_message_id=meal.card_message_id,
        items=tuple(item_view(item, table) for item in sorted(meal.items, key=lambda i: (i.position, i.id))),
        prediction=prediction,
        version=meal.version or 1,
        source_message_id=meal.source_message_id,
        replaces_meal_id=meal.replaces_meal_id,
    )


def item_view(item: MealItem, table: NutritionTable) -> ItemView:
    """The item with its name and portion name from the table now (its key, if the table lost it)."""
    food = table.get(item.food_key)
    return ItemView(
        id=item.id,
        position=item.position,
        food_key=item.food_key,
        name=food.name if food is not None else item.food_key,
        grams=item.grams,
        portion_name=food.portion_name if food is not None else "",
        macros=stored_macros(item),
        source=item.source,
        confidence=item.confidence,
    )
