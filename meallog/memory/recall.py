"""A person's memory, loaded once and kept current, applied to each recognition of their photos.

`Recall.rank(user_id, recognition)` re-ranks the classifier's answer with the person's own examples
and the shared ones (`meallog.memory.ranking`), under the bundle that answered: examples taught under
another bundle live in another embedding space and wait to be embedded again (`bot.reembed`).

Caching: a person's index is built once and kept while the store's stamp (row count and newest id,
one indexed query per photo) is unchanged, so a correction made through another bot process is seen
by the next photo. The shared examples are one set for everyone, checked at most every
`SHARED_CHECK_S` seconds. At most `MAX_PEOPLE` people are kept; the least recently seen go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meallog.memory.ranking import DEFAULT_PARAMS, MemoryIndex, RankingParams, rank_with_memory
from meallog.store.memory import ExampleView, MemoryStore
from model.recognition import Recognition, decode_embedding

#: How often the shared examples are checked for changes (seconds).
SHARED_CHECK_S = 30.0
#: People whose memory is kept in this process.
MAX_PEOPLE = 2000


@dataclass(slots=True)
class _Shared:
    stamp: tuple[int, int]
    checked: float
    examples: list[ExampleView]


@dataclass(slots=True)
class _Cached:
    own_stamp: tuple[int, int]
    shared_stamp: tuple[int, int]
    index: MemoryIndex


def build_index(own: Sequence[ExampleView], shared: Sequence[ExampleView], user_id: int) -> MemoryIndex:
    """The index one person's photos are ranked against: their examples, then others' shared ones."""
    rows = [*own, *(e for e in shared if e.user_id != user_id)]
    plates: dict[tuple[int, str], int] = {}
    plate_of = [plates.setdefault((e.user_id, e.photo_unique_id or f"#{e.id}"), len(plates)) for e in rows]
    return MemoryIndex.build(
        [decode_embedding(e.embedding) for e in rows],
        [e.food_key for e in rows],
        [e.user_id == user_id for e in rows],
        plate_of,
    )


class Recall:
    """Ranks recognitions with memory (module docstring)."""

    def __init__(
        self,
        store: MemoryStore,
        name_of: Callable[[str], str],
        *,
        shared: bool = True,
        min_people: int = 3,
        params: RankingParams = DEFAULT_PARAMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.name_of = name_of
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
        return rank_with_memory(recognition, index, self.name_of, self.params)

    async def index(self, user_id: int, bundle_id: str) -> MemoryIndex:
        """The person's current index under a bundle, from the cache when nothing changed."""
        own_stamp = await self.store.stamp(bundle_id, user_id)
        shared = await self._shared_examples(bundle_id)
        slot = (user_id, bundle_id)
        cached = self._people.get(slot)
        if cached is not None and cached.own_stamp == own_stamp and cached.shared_stamp == shared.stamp:
            self._people.move_to_end(slot)
            return cached.index
        own = await self.store.examples(user_id, bundle_id) if own_stamp[0] else []
        index = build_index(own, shared.examples, user_id)
        self._people[slot] = _Cached(own_stamp, shared.stamp, index)
        self._people.move_to_end(slot)
        while len(self._people) > MAX_PEOPLE:
            self._people.popitem(last=False)
        return index

    async def _shared_examples(self, bundle_id: str) -> _Shared:
        if not self.shared_on:
            return _Shared((0, 0), 0.0, [])
        now = self._clock()
        current = self._shared.get(bundle_id)
        if current is not None and now - current.checked < SHARED_CHECK_S:
            return current
        stamp = await self.store.stamp(bundle_id)
        if current is None or current.stamp != stamp:
            current = _Shared(stamp, now, await self.store.shared(bundle_id, self.min_people))
            self._shared[bundle_id] = current
        current.checked = now
        return current
