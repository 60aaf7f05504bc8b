"""The memory of corrections in the database: taught examples, per person and shared.

`learn_from_meal` runs inside `MealStore.save_meal`'s transaction, so a saved photo meal and what it
teaches are written together (`meallog.memory.teaching` says what counts). `MemoryStore` adds examples
from `foodbot teach`, reads a person's examples and the shared ones for ranking, counts them for
`/export`, and finds the examples still to embed again for a newly served bundle.

Shared examples: the examples of a food that at least `min_people` different people taught, at most
`PER_PERSON` of each of those people's per food (the latest), so that one person cannot decide alone
what everyone's photos are called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from meallog.db.models import Meal, MemoryExample, User
from meallog.memory.teaching import SOURCES, lessons
from meallog.store.base import Store

#: Examples of one person per food that the shared memory takes (the latest ones).
PER_PERSON = 5


@dataclass(frozen=True, slots=True)
class ExampleView:
    """One taught example as ranking and re-embedding need it."""

    id: int
    user_id: int
    food_key: str
    embedding: bytes
    bundle_id: str
    source: str
    photo_file_id: str | None
    photo_unique_id: str | None
    created_at: datetime


def _view(row: MemoryExample) -> ExampleView:
    return ExampleView(
        id=row.id,
        user_id=row.user_id,
        food_key=row.food_key,
        embedding=row.embedding,
        bundle_id=row.bundle_id,
        source=row.source,
        photo_file_id=row.photo_file_id,
        photo_unique_id=row.photo_unique_id,
        created_at=row.created_at,
    )


async def learn_from_meal(session: AsyncSession, meal: Meal, now: datetime) -> None:
    """Make the examples a saved photo meal teaches, replacing what the same photo taught before.

    `meal` is loaded with its items and prediction. A meal without a photo or an embedding (a typed
    meal, a photo the runtime gave no embedding for) teaches nothing.
    """
    prediction = meal.prediction
    if prediction is None or not prediction.embedding or meal.photo_unique_id is None:
        return
    await session.execute(
        delete(MemoryExample).where(
            MemoryExample.user_id == meal.user_id,
            MemoryExample.photo_unique_id == meal.photo_unique_id,
            MemoryExample.source != "taught",
        )
    )
    for lesson in lessons((item.food_key, item.model_key) for item in meal.items):
        session.add(
            MemoryExample(
                user_id=meal.user_id,
                food_key=lesson.food_key,
                embedding=prediction.embedding,
                bundle_id=prediction.bundle_id,
                source=lesson.source,
                photo_file_id=meal.photo_file_id,
                photo_unique_id=meal.photo_unique_id,
                created_at=now,
            )
        )
    await session.flush()


def _embedded_as(example: ExampleView, embedding: bytes, bundle_id: str) -> MemoryExample:
    """A new row: `example` as embedded by another bundle (its old row keeps its own)."""
    return MemoryExample(
        user_id=example.user_id,
        food_key=example.food_key,
        embedding=embedding,
        bundle_id=bundle_id,
        source=example.source,
        photo_file_id=example.photo_file_id,
        photo_unique_id=example.photo_unique_id,
        created_at=example.created_at,
    )


class MemoryStore(Store):
    """Taught examples: adding them, reading them for ranking, counting them."""

    async def teach(
        self,
        user_id: int,
        food_key: str,
        embedding: bytes,
        bundle_id: str,
        *,
        source: str = "taught",
        photo_file_id: str | None = None,
        photo_unique_id: str | None = None,
    ) -> ExampleView:
        """Add one example (the person is made if the bot has not met them yet, as `foodbot teach` may)."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if not embedding:
            raise ValueError("an example needs the photo's embedding")
        async with self._write() as session:
            if await session.get(User, user_id) is None:
                session.add(User(id=user_id, chat_id=user_id))
                await session.flush()
            row = MemoryExample(
                user_id=user_id,
                food_key=food_key,
                embedding=embedding,
                bundle_id=bundle_id,
                source=source,
                photo_file_id=photo_file_id,
                photo_unique_id=photo_unique_id,
                created_at=self._now(),
            )
            session.add(row)
            await session.flush()
            return _view(row)

    async def count(self, user_id: int) -> int:
        """How many examples the person has taught (over every bundle, each photo and food once)."""
        # Rows embedded again for another bundle repeat a photo and food: those count once.
        async with self._read() as session:
            rows = await session.execute(
                select(MemoryExample.food_key, MemoryExample.photo_unique_id, MemoryExample.id).where(
                    MemoryExample.user_id == user_id
                )
            )
            return len({(key, photo or f"#{row_id}") for key, photo, row_id in rows.all()})

    async def stamp(self, bundle_id: str, user_id: int | None = None) -> tuple[int, int]:
        """(rows, newest id) of one person's examples, or everyone's, under a bundle: changes when they do.

        Cheap (an index range), so every photo can check whether a cached memory is still current.
        """
        stmt = select(func.count(), func.coalesce(func.max(MemoryExample.id), 0)).where(
            MemoryExample.bundle_id == bundle_id
        )
        if user_id is not None:
            stmt = stmt.where(MemoryExample.user_id == user_id)
        async with self._read() as session:
            rows, newest = (await session.execute(stmt)).one()
            return int(rows), int(newest)

    async def examples(self, user_id: int, bundle_id: str) -> list[ExampleView]:
        """The person's examples under a bundle, oldest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(MemoryExample)
                .where(MemoryExample.user_id == user_id, MemoryExample.bundle_id == bundle_id)
                .order_by(MemoryExample.id)
            )
            return [_view(row) for row in rows]

    async def shared(self, bundle_id: str, min_people: int) -> list[ExampleView]:
        """Examples of the foods at least `min_people` people taught (module docstring), oldest first."""
        async with self._read() as session:
            foods = (
                select(MemoryExample.food_key)
                .where(MemoryExample.bundle_id == bundle_id)
                .group_by(MemoryExample.food_key)
                .having(func.count(func.distinct(MemoryExample.user_id)) >= min_people)
            )
            rows = await session.scalars(
                select(MemoryExample)
                .where(MemoryExample.bundle_id == bundle_id, MemoryExample.food_key.in_(foods))
                .order_by(MemoryExample.id.desc())
            )
            kept: list[ExampleView] = []
            taken: dict[tuple[int, str], int] = {}
            for row in rows:
                slot = (row.user_id, row.food_key)
                if taken.get(slot, 0) < PER_PERSON:
                    taken[slot] = taken.get(slot, 0) + 1
                    kept.append(_view(row))
            return kept[::-1]

    async def to_embed_again(self, bundle_id: str, limit: int) -> list[ExampleView]:
        """Examples under other bundles with a Telegram photo and no counterpart under `bundle_id` yet.

        A counterpart is a row of the same person, photo and food under `bundle_id`; the newest such
        example of each photo and food is returned, at most `limit`.
        """
        # One anti-join, limited, so a table of many examples already embedded again costs one indexed
        # query a run, not a scan of every old row and its embedding.
        current = aliased(MemoryExample)
        counterpart = (
            select(current.id)
            .where(
                current.bundle_id == bundle_id,
                current.user_id == MemoryExample.user_id,
                current.photo_unique_id == MemoryExample.photo_unique_id,
                current.food_key == MemoryExample.food_key,
            )
            .exists()
        )
        stmt = (
            select(MemoryExample)
            .where(
                MemoryExample.bundle_id != bundle_id,
                MemoryExample.photo_file_id.is_not(None),
                ~counterpart,
            )
            .order_by(MemoryExample.id.desc())
            .limit(limit * 4)
        )
        async with self._read() as session:
            found: dict[tuple[int, str | None, str], ExampleView] = {}
            for row in await session.scalars(stmt):
                found.setdefault((row.user_id, row.photo_unique_id, row.food_key), _view(row))
            return list(found.values())[:limit]

    async def every_example(self, bundle_id: str) -> list[ExampleView]:
        """Every person's examples under `bundle_id`, oldest first: what a retrain learns from (only
        people who are still here: /forget deleted the rest)."""
        async with self._read() as session:
            rows = await session.scalars(
                select(MemoryExample).where(MemoryExample.bundle_id == bundle_id).order_by(MemoryExample.id)
            )
            return [_view(row) for row in rows]

    async def embedded_again(self, example: ExampleView, embedding: bytes, bundle_id: str) -> None:
        """Store `example` as embedded under `bundle_id` (a new row; the old one keeps its bundle)."""
        async with self._write() as session:
            if await session.get(User, example.user_id) is None:
                return  # forgotten meanwhile
            session.add(_embedded_as(example, embedding, bundle_id))

    async def add_embedded(self, embedded: Sequence[tuple[ExampleView, bytes]], bundle_id: str) -> int:
        """Store many examples as embedded under `bundle_id` in one transaction (a full retrain embeds
        the whole memory for its candidate before promoting it); returns how many rows were added.

        Only examples still in the table count: one deleted meanwhile (its meal corrected again, its
        person forgotten) is not brought back. Ones already stored under `bundle_id` (the same person,
        photo and food) are skipped.
        """
        if not embedded:
            return 0
        async with self._write() as session:
            ids = [example.id for example, _ in embedded]
            present: set[int] = set()
            for start in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[start : start + 500]
                present.update(
                    await session.scalars(select(MemoryExample.id).where(MemoryExample.id.in_(chunk)))
                )
            have = {
                tuple(row)
                for row in await session.execute(
                    select(
                        MemoryExample.user_id, MemoryExample.photo_unique_id, MemoryExample.food_key
                    ).where(MemoryExample.bundle_id == bundle_id)
                )
            }
            added = 0
            for example, embedding in embedded:
                key = (example.user_id, example.photo_unique_id, example.food_key)
                if example.id not in present or key in have:
                    continue
                have.add(key)
                session.add(_embedded_as(example, embedding, bundle_id))
                added += 1
            return added

    async def forget_photo_file(self, example: ExampleView) -> None:
        """Telegram no longer has the photo: its rows stop asking to be embedded again."""
        async with self._write() as session:
            await session.execute(
                update(MemoryExample)
                .where(
                    MemoryExample.user_id == example.user_id,
                    MemoryExample.photo_file_id == example.photo_file_id,
                )
                .values(photo_file_id=None)
            )
