"""People's own foods (`meallog.my_foods`) in the database, and this process's copy of them.

The nutrition table answers food keys synchronously everywhere (cards, totals, the meal log), so each
process keeps the foods of the people it has served in memory and the table looks `my_<id>` keys up
there (`NutritionTable.attach_personal`). The copy is kept current by `users.my_foods_version`, which
every change sets anew (a random number, so that one never comes back after /forget): the handlers read
the person's row for each update anyway, and `refresh` reloads their foods only when that number moved,
so a food defined through another bot process is known here from the person's next message on. Deleted
foods stay in the copy (by key, for the names of meals logged with them) but not in `active`, which is
what search and /myfoods show.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.db.models import MyFood, User
from meallog.my_foods import MAX_MY_FOODS, MyFoodError, MyFoodSpec, food_of, my_id
from meallog.nutrition import Food, normalize
from meallog.store.base import Clock, Store, valid_id
from meallog.summary_times import utc_now


@dataclass(frozen=True, slots=True)
class _Copy:
    """One person's foods as this process last read them."""

    version: int
    active: tuple[Food, ...]


class MyFoodStore(Store):
    """Create, change, delete and list a person's foods; look any of them up by key."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utc_now) -> None:
        super().__init__(sessions, clock)
        self._copies: dict[int, _Copy] = {}
        self._by_key: dict[str, Food] = {}

    # -- this process's copy ---------------------------------------------------------------------------

    def lookup(self, key: str) -> Food | None:
        """The food with key `my_<id>` if this process has read it (deleted ones too), else None."""
        return self._by_key.get(key)

    def active(self, user_id: int) -> tuple[Food, ...]:
        """The person's foods as last read (`refresh`), not deleted, by name."""
        copy = self._copies.get(user_id)
        return copy.active if copy is not None else ()

    async def refresh(self, user_id: int, version: int) -> None:
        """Read the person's foods again if `version` (their row's `my_foods_version`) is not the one
        this process holds; nothing to do for the many who never defined one (version 0)."""
        copy = self._copies.get(user_id)
        if (copy is None and version == 0) or (copy is not None and copy.version == version):
            return
        async with self._read() as session:
            await self._load(session, user_id)

    async def refresh_for(self, user_id: int) -> None:
        """`refresh` for a person whose row the caller has not read (a button press, a summary)."""
        async with self._read() as session:
            version = await session.scalar(select(User.my_foods_version).where(User.id == user_id))
        await self.refresh(user_id, version or 0)

    async def refresh_many(self, user_ids: Sequence[int]) -> None:
        """`refresh` for many people at once (the daily summaries): one query for their versions."""
        if not user_ids:
            return
        async with self._read() as session:
            rows = await session.execute(
                select(User.id, User.my_foods_version).where(User.id.in_(user_ids), User.my_foods_version > 0)
            )
            stale = [
                user_id
                for user_id, version in rows
                if (copy := self._copies.get(user_id)) is None or copy.version != version
            ]
            for user_id in stale:
                await self._load(session, user_id)

    async def _load(self, session: AsyncSession, user_id: int) -> tuple[Food, ...]:
        version = await session.scalar(select(User.my_foods_version).where(User.id == user_id))
        rows = (await session.scalars(select(MyFood).where(MyFood.user_id == user_id))).all()
        active: list[Food] = []
        for row in rows:
            food = food_of(row.id, _spec(row))
            self._by_key[food.key] = food
            if row.deleted_at is None:
                active.append(food)
        active.sort(key=lambda food: normalize(food.name))
        self._copies[user_id] = _Copy(version or 0, tuple(active))
        return tuple(active)

    # -- changes -----------------------------------------------------------------------------------------

    async def create(self, user_id: int, spec: MyFoodSpec) -> Food:
        """Store a new food for the person; `MyFoodError` past `MAX_MY_FOODS` or for a name they use."""
        async with self._write() as session:
            await self._check_name(session, user_id, spec.name, keep=None)
            await self._check_room(session, user_id)
            now = self._now()
            row = MyFood(user_id=user_id, created_at=now, updated_at=now)
            _fill(row, spec)
            session.add(row)
            await session.flush()
            await self._changed(session, user_id)
            return food_of(row.id, spec)

    async def change(self, user_id: int, food_id: int, spec: MyFoodSpec) -> Food | None:
        """Replace the food's name and numbers (meals logged with it keep theirs); None when not theirs."""
        async with self._write() as session:
            row = await self._own(session, user_id, food_id)
            if row is None or row.deleted_at is not None:
                return None
            await self._check_name(session, user_id, spec.name, keep=row.id)
            _fill(row, spec)
            row.updated_at = self._now()
            await self._changed(session, user_id)
            return food_of(row.id, spec)

    async def delete(self, user_id: int, food_id: int, *, restore: bool = False) -> Food | None:
        """Delete the food from search and the list (or `restore` it: the undo); None when not theirs."""
        async with self._write() as session:
            row = await self._own(session, user_id, food_id)
            if row is None or (row.deleted_at is None) == restore:
                return None
            if restore:
                await self._check_name(session, user_id, row.name, keep=row.id)
                await self._check_room(session, user_id)
            row.deleted_at = None if restore else self._now()
            await self._changed(session, user_id)
            return food_of(row.id, _spec(row))

    async def foods(self, user_id: int) -> tuple[Food, ...]:
        """The person's foods, not deleted, by name, read now (and this process's copy with them)."""
        async with self._read() as session:
            return await self._load(session, user_id)

    async def get(self, user_id: int, key_or_id: str | int) -> Food | None:
        """One of the person's foods by key or id, not deleted; None for anyone else's."""
        food_id = my_id(key_or_id) if isinstance(key_or_id, str) else key_or_id
        if food_id is None:
            return None
        async with self._read() as session:
            row = await self._own(session, user_id, food_id)
            if row is None or row.deleted_at is not None:
                return None
            return food_of(row.id, _spec(row))

    # -- helpers -----------------------------------------------------------------------------------------

    async def _own(self, session: AsyncSession, user_id: int, food_id: int) -> MyFood | None:
        if not valid_id(food_id):
            return None
        row = await session.get(MyFood, food_id)
        return row if row is not None and row.user_id == user_id else None

    async def _check_room(self, session: AsyncSession, user_id: int) -> None:
        count = await session.scalar(
            select(func.count()).where(MyFood.user_id == user_id, MyFood.deleted_at.is_(None))
        )
        if (count or 0) >= MAX_MY_FOODS:
            raise MyFoodError(f"You have {MAX_MY_FOODS} foods already; delete one in /myfoods first.")

    async def _check_name(self, session: AsyncSession, user_id: int, name: str, keep: int | None) -> None:
        rows = await session.scalars(
            select(MyFood).where(MyFood.user_id == user_id, MyFood.deleted_at.is_(None))
        )
        wanted = normalize(name)
        if any(normalize(row.name) == wanted and row.id != keep for row in rows):
            raise MyFoodError(f"You have a food called “{escape(name)}” already — change it in /myfoods.")

    async def _changed(self, session: AsyncSession, user_id: int) -> None:
        """A new version for the person (every process then reads their foods again), and reread here."""
        version = secrets.randbits(62) or 1
        await session.execute(update(User).where(User.id == user_id).values(my_foods_version=version))
        await session.flush()
        await self._load(session, user_id)


def _spec(row: MyFood) -> MyFoodSpec:
    return MyFoodSpec(
        name=row.name,
        kcal=row.kcal,
        protein_g=row.protein_g,
        fat_g=row.fat_g,
        carbs_g=row.carbs_g,
        portion_g=row.portion_g,
        portion_name=row.portion_name,
    )


def _fill(row: MyFood, spec: MyFoodSpec) -> None:
    row.name = spec.name
    row.kcal = spec.kcal
    row.protein_g = spec.protein_g
    row.fat_g = spec.fat_g
    row.carbs_g = spec.carbs_g
    row.portion_g = spec.portion_g
    row.portion_name = spec.portion_name
