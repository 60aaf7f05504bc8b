"""Measuring the memory of corrections on a folder of real photos (`foodbot evaluate-memory`).

For each number of shots k: the first k photos of every food (in name order) are taught, as a person
would teach them, and every other photo of that food is recognized with and without the memory.
A food with k photos or fewer is all taught and only fills the memory (as the many other foods of a
real person's memory would). Photos in `no_food/` are never taught and must stay "no food".

Two checks guard what memory must not break: photos of foods the classifier knows keep their first
answer (at most one in `LOSS_TOLERANCE` may change for the worse), and no-food photos stay no-food
(the same tolerance). Counts come with the percentages, so a reader sees how few photos a figure
rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meallog.memory.ranking import DEFAULT_PARAMS, MemoryIndex, RankingParams, rank_with_memory
from model.recognition import Recognition, decode_embedding

NO_FOOD = "no_food"
#: At most one photo in this many may lose its right answer (known foods) or its no-food verdict.
LOSS_TOLERANCE = 50


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo of the set: its folder's food (`NO_FOOD` for none), its file name and its recognition."""

    food: str
    name: str
    recognition: Recognition


@dataclass(slots=True)
class Count:
    """Right answers out of how many."""

    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += int(ok)
        self.total += 1

    def json(self) -> dict[str, Any]:
        share = round(self.right / self.total, 4) if self.total else None
        return {"right": self.right, "of": self.total, "share": share}

    def __str__(self) -> str:
        share = f"{self.right / self.total:6.1%}" if self.total else "     -"
        return f"{self.right:>4} of {self.total:<4} {share}"


@dataclass(slots=True)
class ShotReport:
    """The figures for one number of shots."""

    shots: int
    foods_in_memory: int = 0
    examples: int = 0
    top1_plain: Count = field(default_factory=Count)
    top1_memory: Count = field(default_factory=Count)
    top3_plain: Count = field(default_factory=Count)
    top3_memory: Count = field(default_factory=Count)
    known_plain: Count = field(default_factory=Count)
    known_memory: Count = field(default_factory=Count)
    known_lost: int = 0
    no_food_plain: Count = field(default_factory=Count)
    no_food_memory: Count = field(default_factory=Count)
    no_food_lost: int = 0

    @property
    def known_allowed(self) -> int:
        return self.known_plain.total // LOSS_TOLERANCE

    @property
    def no_food_allowed(self) -> int:
        return self.no_food_plain.total // LOSS_TOLERANCE

    @property
    def passed(self) -> bool:
        """Whether memory cost no more than the tolerance on known foods and on no-food photos."""
        return self.known_lost <= self.known_allowed and self.no_food_lost <= self.no_food_allowed

    def json(self) -> dict[str, Any]:
        return {
            "shots": self.shots,
            "foods_in_memory": self.foods_in_memory,
            "examples": self.examples,
            "top1": {"plain": self.top1_plain.json(), "memory": self.top1_memory.json()},
            "top3": {"plain": self.top3_plain.json(), "memory": self.top3_memory.json()},
            "known_foods_top1": {
                "plain": self.known_plain.json(),
                "memory": self.known_memory.json(),
                "lost": self.known_lost,
                "allowed": self.known_allowed,
            },
            "no_food_kept": {
                "plain": self.no_food_plain.json(),
                "memory": self.no_food_memory.json(),
                "lost": self.no_food_lost,
                "allowed": self.no_food_allowed,
            },
            "passed": self.passed,
        }


def _first(rec: Recognition) -> str | None:
    return None if rec.no_food or not rec.foods else rec.foods[0].key


def _top3(rec: Recognition) -> list[str]:
    return [food.key for food in rec.foods[:3]]


def teach_index(taught: Sequence[Photo]) -> MemoryIndex:
    """The memory a person who taught these photos has (all their own, one plate per photo)."""
    return MemoryIndex.build(
        [decode_embedding(p.recognition.embedding) for p in taught],
        [p.food for p in taught],
        [True] * len(taught),
        list(range(len(taught))),
    )


def split(photos: Sequence[Photo], shots: int) -> tuple[list[Photo], list[Photo], list[Photo]]:
    """(taught, food photos to recognize, no-food photos) for k shots (module docstring)."""
    by_food: dict[str, list[Photo]] = {}
    for photo in sorted(photos, key=lambda p: (p.food, p.name)):
        by_food.setdefault(photo.food, []).append(photo)
    no_food = by_food.pop(NO_FOOD, [])
    taught = [p for group in by_food.values() for p in group[:shots]]
    queries = [p for group in by_food.values() for p in group[shots:]]
    return taught, queries, no_food


def evaluate(
    photos: Sequence[Photo],
    shots: int,
    known_foods: set[str],
    name_of: Callable[[str], str],
    params: RankingParams = DEFAULT_PARAMS,
) -> ShotReport:
    """Teach `shots` photos per food and score the rest (module docstring)."""
    usable = [p for p in photos if p.recognition.error is None]
    taught, queries, no_food = split(usable, shots)
    index = teach_index(taught)
    report = ShotReport(shots, foods_in_memory=len({p.food for p in taught}), examples=len(taught))
    for photo in queries:
        plain = photo.recognition
        remembered = rank_with_memory(plain, index, name_of, params)
        report.top1_plain.add(_first(plain) == photo.food)
        report.top1_memory.add(_first(remembered) == photo.food)
        report.top3_plain.add(photo.food in _top3(plain))
        report.top3_memory.add(photo.food in _top3(remembered))
        if photo.food in known_foods:
            was_right = _first(plain) == photo.food
            is_right = _first(remembered) == photo.food
            report.known_plain.add(was_right)
            report.known_memory.add(is_right)
            report.known_lost += int(was_right and not is_right)
    for photo in no_food:
        plain = photo.recognition
        remembered = rank_with_memory(plain, index, name_of, params)
        report.no_food_plain.add(plain.no_food)
        report.no_food_memory.add(remembered.no_food)
        report.no_food_lost += int(plain.no_food and not remembered.no_food)
    return report


def report_text(reports: Sequence[ShotReport], photos: int, foods: Mapping[str, int]) -> str:
    """The human-readable table `foodbot evaluate-memory` prints."""
    lines = [f"{photos} photos: {sum(foods.values())} of {len(foods)} foods, the rest no food"]
    for r in reports:
        lines += [
            "",
            f"{r.shots} shot{'s' if r.shots != 1 else ''} per food: {r.examples} examples of "
            f"{r.foods_in_memory} foods in memory",
            f"  {'':<26}{'plain model':<22}with memory",
            f"  {'named first':<26}{r.top1_plain!s:<22}{r.top1_memory}",
            f"  {'in the top 3':<26}{r.top3_plain!s:<22}{r.top3_memory}",
            f"  {'known foods named first':<26}{r.known_plain!s:<22}{r.known_memory}"
            f"   lost {r.known_lost} (allowed {r.known_allowed})",
            f"  {'no-food photos kept':<26}{r.no_food_plain!s:<22}{r.no_food_memory}"
            f"   lost {r.no_food_lost} (allowed {r.no_food_allowed})",
            f"  {'PASS' if r.passed else 'FAIL: memory broke more than it may'}",
        ]
    return "\n".join(lines)
