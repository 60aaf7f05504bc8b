"""What recognizing one photo yields: plain data, importable without torch.

The bot, the queue backends and `foodbot predict` all speak these types, so they live apart from the
runtime that produces them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: How embeddings travel and are stored: little-endian float16, L2-normalised (half the bytes of float32;
#: cosine similarities move by about 1e-3, far below the margins ranking relies on).
EMBEDDING_DTYPE = np.dtype("<f2")


def encode_embedding(features: np.ndarray) -> bytes:
    """One photo's pooled features as stored bytes: L2-normalised float16 (empty for a zero vector)."""
    vector = np.asarray(features, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        return b""
    return (vector / norm).astype(EMBEDDING_DTYPE).tobytes()


def decode_embedding(data: bytes) -> np.ndarray:
    """Stored bytes back as a float32 vector (empty when there was none)."""
    return np.frombuffer(data, dtype=EMBEDDING_DTYPE).astype(np.float32)


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
    #: Whether the memory of corrections is sure of this food (`meallog.memory.ranking`).
    remembered: bool = False


@dataclass(frozen=True, slots=True)
class Recognition:
    """The model's answer for one photo.

    `labels` keeps the raw top labels with their scores (the prediction record the bot stores);
    `food_mass` is the probability the model gives to food at all; `embedding` the photo's features
    (`encode_embedding`; empty when the runtime gave none), which the meal log's memory of corrections
    ranks with, so a bot process needs no model to use it. `error` is a friendly sentence when
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
    embedding: bytes = b""

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
        data = asdict(self)
        data["embedding"] = base64.b64encode(self.embedding).decode("ascii")
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Recognition:
        """The inverse of `to_json`."""
        data: dict[str, Any] = json.loads(text)
        data["foods"] = tuple(RankedFood(**food) for food in data["foods"])
        data["labels"] = tuple((label, score) for label, score in data["labels"])
        data["embedding"] = base64.b64decode(data.get("embedding", ""))
        return cls(**data)
