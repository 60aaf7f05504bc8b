"""What a person's next typed text answers: the pending prompt, typed.

A menu or a card's button asks for something typed (grams, a food's name, a timezone, goals, a meal's
time) or walks through steps (the goal calculator); the question is stored with the person
(`users.pending`) so any bot process can take the answer. One `Prompt` for every kind: the
stored JSON keeps its earlier shape (`{"kind": "grams", "meal_id": 5, "item_id": 9}`), so no migration,
and a stored value that no longer makes sense (an unknown kind, a bad field) reads as no prompt at
all rather than failing the person's next message.

A prompt is asked at a time (`asked_at`, stamped by `PeopleStore.set_pending`) and typed text stops
answering it after `PROMPT_TTL`: a meal typed an hour after an abandoned search is a new meal, not an
addition to the old draft. Prompts stored before `asked_at` existed never expire.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

#: How long typed text answers an open prompt.
PROMPT_TTL = timedelta(minutes=20)


class PromptKind(StrEnum):
    """The questions the bot can have open with a person."""

    GRAMS = "grams"  # an item's grams, typed
    SEARCH = "search"  # a food's name, to change an item or add one (item_id 0)
    RESULTS = "results"  # search results shown: `keys` to pick from, with typed `grams` if any
    MEAL_TIME = "meal_time"  # a draft's day and time, typed
    TIMEZONE = "tz"  # a timezone or city, typed
    GOAL_TYPED = "goal_typed"  # daily targets, typed after /goal
    GOAL_SEX = "goal_sex"  # the calculator's first step (buttons)
    GOAL_BODY = "goal_body"  # age, height and weight, typed
    GOAL_ACTIVITY = "goal_activity"  # activity (buttons); the body is kept
    GOAL_AIM = "goal_aim"  # aim (buttons); body and activity kept
    GOAL_PROPOSAL = "goal_proposal"  # computed `goals` to accept (buttons)
    SUMMARY_TIME = "summary_time"  # the daily summary's time, typed (any minute, not only quarters)
    MY_FOOD = "my_food"  # a person's own food, typed (`meallog.my_foods`): new, or food `item_id` changed


@dataclass(frozen=True, slots=True)
class Prompt:
    """One open question; the fields a kind does not use stay None (and are not stored)."""

    kind: PromptKind
    meal_id: int | None = None
    item_id: int | None = None
    keys: tuple[str, ...] | None = None
    grams: float | None = None
    sex: str | None = None
    age: int | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    activity: str | None = None
    goals: dict[str, Any] | None = None
    asked_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether typed text at `now` no longer answers this prompt (`PROMPT_TTL` after it was asked)."""
        return self.asked_at is not None and now - self.asked_at > PROMPT_TTL

    def then(self, kind: PromptKind, **changes: Any) -> Prompt:
        """The next step of a walk through steps, keeping what was answered so far."""
        return replace(self, kind=kind, **changes)

    def to_json(self) -> dict[str, Any]:
        """The stored shape: the kind and the fields that are set."""
        data: dict[str, Any] = {"kind": self.kind.value}
        for field in fields(self)[1:]:
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                data[field.name] = value.isoformat()
            elif value is not None:
                data[field.name] = list(value) if isinstance(value, tuple) else value
        if self.kind is PromptKind.RESULTS:
            data.setdefault("grams", None)  # the results prompt always said whether grams were typed
        return data

    @classmethod
    def from_json(cls, data: Any) -> Prompt | None:
        """The stored prompt, or None when there is none or it cannot be read."""
        if not isinstance(data, dict):
            return None
        try:
            kind = PromptKind(str(data.get("kind")))
            keys = data.get("keys")
            return cls(
                kind=kind,
                meal_id=_optional(int, data.get("meal_id")),
                item_id=_optional(int, data.get("item_id")),
                keys=tuple(str(k) for k in keys) if isinstance(keys, list) else None,
                grams=_optional(float, data.get("grams")),
                sex=_optional(str, data.get("sex")),
                age=_optional(int, data.get("age")),
                height_cm=_optional(float, data.get("height_cm")),
                weight_kg=_optional(float, data.get("weight_kg")),
                activity=_optional(str, data.get("activity")),
                goals=dict(data["goals"]) if isinstance(data.get("goals"), dict) else None,
                asked_at=_optional(datetime.fromisoformat, data.get("asked_at")),
            )
        except (TypeError, ValueError):
            return None


def _optional(kind: Any, value: Any) -> Any:
    return None if value is None else kind(value)
