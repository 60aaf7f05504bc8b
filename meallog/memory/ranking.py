"""One ranked list from the classifier and the memory of corrections together.

The classifier gives each food it knows a probability; the memory gives each food a person taught
(or that several people taught alike, the shared memory) evidence from how close this photo is to
its examples. The two combine as a noisy OR, `1 - (1 - p) * (1 - e)`: a food keeps what the classifier
gave it, memory can only add, and a food the classifier has no label for (udon, a home recipe) gets
its score from memory alone. A person's own examples count more than shared ones.

Evidence from a similarity `s` (cosine of the normalised embeddings) is
`weight * sigmoid((s - floor) / slope)`: far-off examples say almost nothing, near ones nearly as much
as `weight`. A food's similarity is its nearest example's. The constants were calibrated on the real
photos of `bench/data/food_photos` (one photo per food taught, the others recognized, both ways
round), as the best top-1 count that lost no known food and no no-food photo; README "Memory of
corrections" has the figures. Tried and not kept, for no gain there: centring the embeddings on their
mean, averaging a flipped copy, features of earlier blocks, discounting a food's similarity by the
runner-up's.

"No food" is the classifier's verdict unless memory is sure of a food (`present` and over): a taught
egg is an egg the next time. Foods taught from the same photo as the best match come along when
they are as near (`PLATE_MARGIN`): a person's usual plate of pancakes, syrup and banana is answered
with all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from model.recognition import RankedFood, Recognition, decode_embedding

#: How much less near than the best match another food of the same photo may be and still come along.
PLATE_MARGIN = 0.03
#: Foods listed at most, so the ✏️ alternatives include the nearest taught foods.
MAX_FOODS = 8


@dataclass(frozen=True, slots=True)
class RankingParams:
    """The calibrated constants of ranking with memory (see the module docstring)."""

    floor: float = 0.45
    slope: float = 0.03
    weight: float = 0.7
    #: A shared example counts this much at most (own ones `weight`), so a person's own memory wins.
    shared_weight: float = 0.56
    #: Memory evidence at or over this makes a food present, even against a "no food" verdict.
    present: float = 0.6


DEFAULT_PARAMS = RankingParams()


@dataclass(frozen=True, slots=True)
class MemoryIndex:
    """Examples one photo is compared with: one normalised embedding a row.

    `keys[i]` is row i's food, `own[i]` whether it is the person's own (else shared), `plate[i]` groups
    rows taught by the same photo. `foods` lists the distinct foods and `food_of[i]` is row i's place in
    it, so a food's nearest example is found for all foods at once, with no loop over the rows.
    """

    embeddings: np.ndarray
    keys: tuple[str, ...]
    own: np.ndarray
    plate: np.ndarray
    foods: tuple[str, ...]
    food_of: np.ndarray
    #: Who taught each row (a shared index skips the asking person's own rows by it).
    users: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def build(
        cls,
        vectors: Sequence[np.ndarray],
        keys: Sequence[str],
        own: Sequence[bool],
        plate: Sequence[int],
        users: Sequence[int] | None = None,
    ) -> MemoryIndex:
        """An index over decoded embeddings (`model.recognition.decode_embedding`); bad rows are skipped."""
        width = _common_width(vectors)
        kept = [i for i, v in enumerate(vectors) if v.shape == (width,) and np.isfinite(v).all()]
        if not kept:
            return cls.empty()
        kept_keys = tuple(keys[i] for i in kept)
        foods = tuple(dict.fromkeys(kept_keys))
        place = {key: n for n, key in enumerate(foods)}
        return cls(
            embeddings=_normalised(np.stack([vectors[i] for i in kept]).astype(np.float32)),
            keys=kept_keys,
            own=np.array([own[i] for i in kept], dtype=bool),
            plate=np.array([plate[i] for i in kept], dtype=np.int64),
            foods=foods,
            food_of=np.array([place[key] for key in kept_keys], dtype=np.int64),
            users=np.array([users[i] for i in kept], dtype=np.int64) if users is not None else None,
        )

    @classmethod
    def empty(cls) -> MemoryIndex:
        none = np.zeros(0, np.int64)
        return cls(np.zeros((0, 0), np.float32), (), np.zeros(0, bool), none, (), none)

    def query(self, embedding: np.ndarray) -> np.ndarray | None:
        """The photo's embedding normalised like the rows; None when it does not fit."""
        if not len(self) or embedding.shape != (self.embeddings.shape[1],):
            return None
        vector = embedding.astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else None


def _common_width(vectors: Sequence[np.ndarray]) -> int:
    widths = [v.shape[0] for v in vectors if v.ndim == 1]
    return max(set(widths), key=widths.count) if widths else 0


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return result


def _evidence(nearest: np.ndarray, weight: float, params: RankingParams) -> np.ndarray:
    """weight * sigmoid((s - floor) / slope) per food; 0 where a food has no example (s = -inf)."""
    has = np.isfinite(nearest)
    scaled = np.where(has, (nearest - params.floor) / params.slope, 0.0)
    result: np.ndarray = np.where(has, weight / (1.0 + np.exp(-np.clip(scaled, -60, 60))), 0.0)
    return result


@dataclass(frozen=True, slots=True)
class Evidence:
    """What memory says of each food it knows, for one photo: evidence in [0, 1], best first."""

    keys: tuple[str, ...]
    evidence: tuple[float, ...]
    #: The foods taught by the same photo as the best match and as near as it (the same plate).
    plate: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonMemory:
    """One person's memory as a process keeps it: their own index, and the one shared index of the
    bundle (built once for everybody, never copied per person), whose rows of `user_id` are skipped
    (they are in `own` already)."""

    own: MemoryIndex
    shared: MemoryIndex
    user_id: int

    def __len__(self) -> int:
        return len(self.own) + len(self.shared)


def memory_evidence(
    embedding: np.ndarray, memory: MemoryIndex | PersonMemory, params: RankingParams = DEFAULT_PARAMS
) -> Evidence:
    """Per taught food, how strongly this photo's nearness to its examples says it is that food."""
    if isinstance(memory, PersonMemory):
        parts = [
            (memory.own, np.ones(len(memory.own), dtype=bool), params.weight),
            (
                memory.shared,
                (memory.shared.users != memory.user_id)
                if memory.shared.users is not None
                else np.ones(len(memory.shared), dtype=bool),
                params.shared_weight,
            ),
        ]
    else:
        parts = [(memory, memory.own, params.weight), (memory, ~memory.own, params.shared_weight)]
    scores: dict[str, float] = {}
    best: tuple[float, MemoryIndex, np.ndarray, int] | None = None
    sims_of: dict[int, np.ndarray] = {}
    for index, rows, weight in parts:
        if not len(index) or not rows.any():
            continue
        query = index.query(embedding)
        if query is None:
            continue
        sims = sims_of.setdefault(id(index), index.embeddings @ query)
        masked = np.where(rows, sims, -np.inf)
        nearest = np.full(len(index.foods), -np.inf, dtype=np.float32)
        np.maximum.at(nearest, index.food_of, masked)
        for n, value in enumerate(_evidence(nearest, weight, params).tolist()):
            if value > scores.get(index.foods[n], -1.0) and np.isfinite(nearest[n]):
                scores[index.foods[n]] = value
        top = int(np.argmax(masked))
        if best is None or masked[top] > best[0]:
            best = (float(masked[top]), index, masked, top)
    if best is None:
        return Evidence((), ())
    ranked = sorted(scores, key=lambda k: -scores[k])
    _, index, masked, top = best
    together = np.flatnonzero((index.plate == index.plate[top]) & (masked >= masked[top] - PLATE_MARGIN))
    plate = tuple(dict.fromkeys(index.keys[r] for r in together[np.argsort(-masked[together])].tolist()))
    return Evidence(tuple(ranked), tuple(scores[k] for k in ranked), plate)


def rank_with_memory(
    recognition: Recognition,
    memory: MemoryIndex | PersonMemory,
    name_of: Callable[[str], str],
    params: RankingParams = DEFAULT_PARAMS,
    known: Callable[[str], bool] | None = None,
) -> Recognition:
    """The recognition re-ranked with the memory (module docstring); unchanged without one.

    `name_of` names a food the classifier did not list; `known` says which foods this process can log
    (a food taught from the index of all foods, where this process has none, is left out). Failed
    recognitions, photos without an embedding and an empty memory come back as they are.
    """
    if recognition.error or not recognition.embedding or not len(memory):
        return recognition
    found = memory_evidence(decode_embedding(recognition.embedding), memory, params)
    if known is not None:
        kept = [n for n, key in enumerate(found.keys) if known(key)]
        found = Evidence(
            tuple(found.keys[n] for n in kept),
            tuple(found.evidence[n] for n in kept),
            tuple(key for key in found.plate if known(key)),
        )
    if not found.keys:
        return recognition
    evidence = dict(zip(found.keys, found.evidence, strict=True))
    model = {food.key: food for food in recognition.foods}
    scores: dict[str, float] = {}
    # The nearest taught foods fill the list after the classifier's, however faint their evidence:
    # measured, they are the person's likeliest other answers (top-3 49 → 53 of 74 when kept).
    for key in dict.fromkeys([*model, *found.keys]):
        p = model[key].confidence if key in model else 0.0
        e = evidence.get(key, 0.0)
        scores[key] = 1.0 - (1.0 - p) * (1.0 - e)
    order = sorted(scores, key=lambda k: -scores[k])[:MAX_FOODS]
    best_memory = found.evidence[0]
    sure_of_memory = best_memory >= params.present
    multi_label = any(food.present for food in recognition.foods[1:])
    present: set[str]
    if recognition.no_food and not sure_of_memory:
        present = set()
    elif multi_label:
        present = {food.key for food in recognition.present}
        present |= {k for k in found.keys if evidence[k] >= params.present}
    else:
        present = {order[0]}
    if sure_of_memory and order[0] in found.plate:
        present |= {k for k in found.plate if k in order}
    foods = tuple(
        RankedFood(
            key=key,
            name=model[key].name if key in model else name_of(key),
            confidence=round(scores[key], 6),
            present=key in present,
            remembered=evidence.get(key, 0.0) >= params.present,
        )
        for key in order
    )
    return replace(recognition, foods=foods, no_food=not present)
