"""Which foods a saved photo meal teaches the memory, and as what kind of example.

A photo meal teaches when it is saved (a draft teaches nothing: it may still be wrong), one example
per food on it, all with the photo's embedding:

* "corrected": a food the model proposed and the person changed (an alternative, a search result);
* "added": a food the person added (by button, typing or caption) that the model did not propose;
* "confirmed": a food the model proposed and the person kept. It counts like the others. Saving is the
  person's "yes, that is what I ate", and without these examples memory would only ever hear of a
  person's mistakes: one corrected pizza would then pull every later pizza towards the correction,
  with nothing on the other side.

Removed foods teach nothing (there are no negative examples), and a photo with no food left teaches
nothing. Saving the same photo's meal again (reopened and changed) replaces what it taught.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Where a memory example came from; `taught` is `foodbot teach`.
SOURCES = ("corrected", "added", "confirmed", "taught")


@dataclass(frozen=True, slots=True)
class Lesson:
    """One food a photo teaches, and why."""

    food_key: str
    source: str


def lessons(items: Iterable[tuple[str, str | None]]) -> list[Lesson]:
    """The lessons of a saved meal from its items as (food key, the model's food key or None).

    One lesson per food: a food on the meal twice teaches once, as its strongest kind (a correction
    over an addition over a confirmation).
    """
    rank = {"corrected": 0, "added": 1, "confirmed": 2}
    best: dict[str, str] = {}
    for food_key, model_key in items:
        if model_key is None:
            source = "added"
        elif food_key != model_key:
            source = "corrected"
        else:
            source = "confirmed"
        if food_key not in best or rank[source] < rank[best[food_key]]:
            best[food_key] = source
    return [Lesson(food_key, source) for food_key, source in best.items()]
