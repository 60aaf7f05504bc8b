"""What recognizing one photo yields: plain data, importable without torch.

The bot, the queue backends and `foodbot predict` all speak these types, so they live apart from the
runtime that produces them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RankedFood:
    """One food the model considers, best first.

    `present` says whether the food counts as part of the meal: for a single-label (softmax) bundle only
    the top food does, the rest are alternatives a person can switch to; for a multi-label (sigmoid)
    bundle every food over its threshold does.
    """

    key: str
    name: str
    confidence: float
    present: bool


@dataclass(frozen=True, slots=True)
class Recognition:
    """The model's answer for one photo.

    `labels` keeps the raw top labels with their scores (the prediction record the bot stores);
    `food_mass` is the probability the model gives to food at all. `error` is a friendly sentence when
    the photo could not be recognized, and `error_kind` says why, so the bot can word its reply:
    "image" (not a readable photo), "busy" (the queue is full), "timeout", "internal".
    """

    foods: tuple[RankedFood, ...]
    no_food: bool
    bundle_id: str
    food_mass: float = 0.0
    labels: tuple[tuple[str, float], ...] = ()
    error: str | None = None
    error_kind: str | None = None

    @property
    def present(self) -> tuple[RankedFood, ...]:
        """The foods that make up the meal (see `RankedFood.present`)."""
        return tuple(food for food in self.foods if food.present)

    @classmethod
    def failed(cls, bundle_id: str, message: str, kind: str = "image") -> Recognition:
        """A photo that could not be recognized; `message` is what the person is told."""
        return cls(foods=(), no_food=True, bundle_id=bundle_id, error=message, error_kind=kind)

    def to_json(self) -> str:
        """The answer as JSON, for the Redis queue and anything else that moves answers between processes."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Recognition:
        """The inverse of `to_json`."""
        data: dict[str, Any] = json.loads(text)
        data["foods"] = tuple(RankedFood(**food) for food in data["foods"])
        data["labels"] = tuple((label, score) for label, score in data["labels"])
        return cls(**data)
