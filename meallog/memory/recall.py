"""A person's memory, loaded once and kept current, applied to each recognition of their photos.

`Recall.rank(user_id, recognition)` re-ranks the classifier's answer with the person's own examples
and the shared ones (`meallog.memory.ranking`), under the bundle that answered: examples taught under
another bundle live in another embedding space and wait to be embedded again (`bot.reembed`).

Caching: a person's own index is built once and kept while the store's stamp (row count and newest
id, one indexed query per photo) is unchanged, so a correction made through another bot process is
seen by the next photo. The shared examples are one index per bundle for everyone (never copied per
person; the asking person's own rows in it are skipped), checked at most every `SHARED_CHECK_S`
seconds and rebuilt only when they changed. At most `MAX_PEOPLE` people are kept, least recent first
out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meallog.memory.ranking import (
    DEFAULT_PARAMS,
    MemoryIndex,
    PersonMemory,
    RankingParams,
    rank_with_memory,
)
from meallog.store.memory import ExampleView, MemoryStore
from model.recognition import Recognition, decode_embedding

#: How often the shared examples are checked for changes (seconds).
SHARED_CHECK_S = 30.0
#: People whose memory is kept in this process.
MAX_PEOPLE = 2000


@dataclass(slots=True)
class _Shared:
    """The bundle's shared examples as one index for everybody, rebuilt only when they change."""

    stamp: tuple[int, int]
    checked: float
    index: MemoryIndex


@dataclass(slots=True)
class _Cached:
    own_stamp: tuple[int, int]
    index: MemoryIndex


def build_index(examples: Sequence[ExampleView], own: bool) -> MemoryIndex:
    """An index over examples; rows taught by the same photo of the same person share a plate."""
    plates: dict[tuple[int, str], int] = {}
    plate_of = [
        plates.setdefault((e.user_id, e.photo_unique_id or f"#{e.id}"), len(plates)) for e in examples
    ]
    return MemoryIndex.build(
        [decode_embedding(e.embedding) for e in examples],
        [e.food_key for e in examples],
        [own] * len(examples),
        plate_of,
        users=[e.user_id for e in examples],
    )


class Recall:
    """Ranks recognitions with memory (module docstring)."""

    def __init__(
        self,
        store: MemoryStore,
        name_of: Callable[[str], str],
        *,
        known: Callable[[str], bool] | None = None,
        shared: bool = True,
        min_people: int = 3,
        params: RankingParams = DEFAULT_PARAMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name_of = name_of
        self.known = known
        self.shared_on = shared
        self.min_people = min_people
        self.params = params
        self._clock = clock
        self._shared: dict[str, _Shared] = {}
        self._people: OrderedDict[tuple[int, str], _Cached] = OrderedDict()

    async def rank(self, user_id: int, recognition: Recognition) -> Recognition:
        """The recognition ranked with this person's memory (as it is when there is none to use)."""
        if recognition.error or not recognition.embedding:
            return recognition
        index = await self.index(user_id, recognition.bundle_id)
        return rank_with_memory(recognition, index, self.name_of, self.params, self.known)

    async def index(self, user_id: int, bundle_id: str) -> PersonMemory:
        """The person's memory under a bundle: their own index, from the cache when nothing changed, and
        the bundle's one shared index."""
        own_stamp = await self.store.stamp(bundle_id, user_id)
        shared = await self._shared_index(bundle_id)
        slot = (user_id, bundle_id)
        cached = self._people.get(slot)
        if cached is None or cached.own_stamp != own_stamp:
            own = await self.store.examples(user_id, bundle_id) if own_stamp[0] else []
            cached = _Cached(own_stamp, build_index(own, own=True))
            self._people[slot] = cached
            while len(self._people) > MAX_PEOPLE:
                self._people.popitem(last=False)
        self._people.move_to_end(slot)
        return PersonMemory(cached.index, shared.index, user_id)

    async def _shared_index(self, bundle_id: str) -> _Shared:
        if not self.shared_on:
            return _Shared((0, 0), 0.0, MemoryIndex.empty())
        now = self._clock()
        current = self._shared.get(bundle_id)
        if current is not None and now - current.checked < SHARED_CHECK_S:
            return current
        stamp = await self.store.stamp(bundle_id)
        if current is None or current.stamp != stamp:
            examples = await self.store.shared(bundle_id, self.min_people)
            current = _Shared(stamp, now, build_index(examples, own=False))
            self._shared[bundle_id] = current
        current.checked = now
        return current
