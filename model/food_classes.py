"""The ImageNet-1k classes the default model can name as foods, and the nutrition key of each.

The list lives in `model/data/imagenet_food_classes.csv` (index, WordNet synset, ImageNet name, food
key): ImageNet indices 923-969 less plate (923), hay (958) and cup (968), plus corn (987) and ear of
corn (998). Every other ImageNet class means "not food".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class FoodClass:
    """One ImageNet class that is a food."""

    index: int
    synset: str
    imagenet_name: str
    food_key: str


@cache
def imagenet_food_classes() -> tuple[FoodClass, ...]:
    """The food classes, in ImageNet index order."""
    text = resources.files("model").joinpath("data/imagenet_food_classes.csv").read_text(encoding="utf-8")
    return tuple(
        FoodClass(int(row["index"]), row["synset"], row["imagenet_name"], row["food_key"])
        for row in csv.DictReader(text.splitlines())
    )
