"""Meals logged again: a person's recent meals and favourites, and new drafts copied from either.

`RepeatStore` reads the recent saved meals `/again` offers (`meallog.again` picks and names them),
keeps the favourites (copies of starred meals, one per set of foods), and makes a new draft with the
foods, grams and numbers of a saved meal or a favourite, dated when the person asks.

Nothing doubled: each new draft carries a `key`, the message it came from (the person's typed "same as
yesterday", or the bot's /again list that was tapped, whose buttons then become the draft's card), in
`meals.source_message_id`. Asked again with the same key (a double tap, an update tried again) the store
returns the draft made the first time. Message ids in a private chat are one sequence for both sides, so
a bot message's id never names a message of the person. Every change first locks the person's row
(on PostgreSQL), so two presses of one person apply one after the other.

A draft made here has no photo and no prediction, so saving it teaches the memory of corrections
nothing (`meallog.store.memory.learn_from_meal`), and its foods have the source "again".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from meallog.again import MAX_FAVOURITES, Favourite, RepeatFood, foods_of, signature
from meallog.db.models import Favourite as FavouriteRow
from meallog.db.models import Meal, MealItem, MealStatus, User
from meallog.local_time import local_date_of
from meallog.portions import Macros
from meallog.store.base import TableStore, meals_query, valid_id
from meallog.store.items import MAX_ITEMS, check_grams, check_source, set_macros
from meallog.store.views import MealView

#: The newest saved meals read for an /again list (it shows fewer: the same foods count once).
RECENT_SCANNED = 60
#: The source of a food copied from an earlier meal.
AGAIN_SOURCE = "again"


class TooManyFavourites(ValueError):
    """A person keeps at most `meallog.again.MAX_FAVOURITES` favourites."""


@dataclass(frozen=True, slots=True)
class Again:
    """The draft a repeat made, and whether this call made it (not: an earlier one with the same key did)."""

    meal: MealView
    new: bool


class RepeatStore(TableStore):
    """Recent meals, favourites, and drafts copied from them."""

    # -- reading -------------------------------------------------------------------------------------

    async def recent_meals(self, user_id: int, limit: int = RECENT_SCANNED) -> list[MealView]:
        """The person's newest saved meals, the latest eaten first."""
        async with self._read() as session:
            meals = await session.scalars(
                meals_query()
                .where(Meal.user_id == user_id, Meal.status == MealStatus.SAVED)
                .order_by(Meal.eaten_at.desc(), Meal.id.desc())
                .limit(limit)
            )
            return [self._meal_view(meal) for meal in meals]

    async def favourites(self, user_id: int) -> list[Favourite]:
        """The person's favourites, the newest starred first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(FavouriteRow)
                .where(FavouriteRow.user_id == user_id)
                .order_by(FavouriteRow.created_at.desc(), FavouriteRow.id.desc())
            )
            return [self._favourite(row) for row in rows]

    async def favourite_for(self, user_id: int, meal_id: int) -> Favourite | None:
        """The favourite with the same foods as this meal of the person, if there is one."""
        if not valid_id(meal_id):
            return None
        async with self._read() as session:
            meal = await self._meal(session, user_id, meal_id, MealStatus.SAVED)
            if meal is None:
                return None
            row = await self._by_signature(session, user_id, _signature(meal))
            return self._favourite(row) if row is not None else None

    # -- favourites ----------------------------------------------------------------------------------

    async def star(self, user_id: int, meal_id: int) -> Favourite | None:
        """Make this saved meal of the person a favourite; a favourite with the same foods takes its
        name and grams instead of a second one being made. None when it is not a saved meal of this
        person with foods. Raises `TooManyFavourites` when the person already keeps `MAX_FAVOURITES`."""
        if not valid_id(meal_id):
            return None
        async with self._write() as session:
            if not await self._lock_person(session, user_id):
                return None
            meal = await self._meal(session, user_id, meal_id, MealStatus.SAVED)
            if meal is None or not meal.items:
                return None
            foods = [
                [i.food_key, i.grams, i.kcal, i.protein_g, i.fat_g, i.carbs_g] for i in meal.items[:MAX_ITEMS]
            ]
            key = _signature(meal)
            row = await self._by_signature(session, user_id, key)
            if row is None:
                count = await session.scalar(
                    select(func.count()).select_from(FavouriteRow).where(FavouriteRow.user_id == user_id)
                )
                if (count or 0) >= MAX_FAVOURITES:
                    raise TooManyFavourites(f"at most {MAX_FAVOURITES} favourites")
                row = FavouriteRow(user_id=user_id, signature=key, created_at=self._now())
                session.add(row)
            row.caption = meal.caption
            row.foods = foods
            await session.flush()
            return self._favourite(row)

    async def unstar(self, user_id: int, favourite_id: int) -> bool:
        """Delete this favourite of the person; False when there was none."""
        if not valid_id(favourite_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                delete(FavouriteRow).where(FavouriteRow.id == favourite_id, FavouriteRow.user_id == user_id)
            )
            return bool(cast(CursorResult[Any], result).rowcount)

    async def unstar_meal(self, user_id: int, meal_id: int) -> bool:
        """Delete the favourite with this saved meal's foods; False when there was none."""
        if not valid_id(meal_id):
            return False
        async with self._write() as session:
            meal = await self._meal(session, user_id, meal_id, MealStatus.SAVED)
            if meal is None:
                return False
            result = await session.execute(
                delete(FavouriteRow).where(
                    FavouriteRow.user_id == user_id, FavouriteRow.signature == _signature(meal)
                )
            )
            return bool(cast(CursorResult[Any], result).rowcount)

    # -- new drafts ----------------------------------------------------------------------------------

    async def again_from_meal(
        self, user_id: int, meal_id: int, *, eaten_at: datetime, key: int | None
    ) -> Again | None:
        """A new draft with the foods, grams and numbers of this saved meal of the person, and its name,
        eaten at `eaten_at` (aware). None when it is not a saved meal of this person."""
        if not valid_id(meal_id):
            return None
        async with self._write() as session:
            user = await self._lock_person(session, user_id)
            if user is None:
                return None
            made = await self._made(session, user_id, key)
            if made is not None:
                return Again(self._meal_view(made), new=False)
            meal = await self._meal(session, user_id, meal_id, MealStatus.SAVED)
            if meal is None:
                return None
            view = self._meal_view(meal)
            return await self._new_draft(session, user, view.caption, foods_of(view), eaten_at, key)

    async def again_from_favourite(
        self, user_id: int, favourite_id: int, *, eaten_at: datetime, key: int | None
    ) -> Again | None:
        """A new draft with this favourite's foods, grams, numbers and name, eaten at `eaten_at` (aware).
        None when it is not a favourite of this person."""
        if not valid_id(favourite_id):
            return None
        async with self._write() as session:
            user = await self._lock_person(session, user_id)
            if user is None:
                return None
            made = await self._made(session, user_id, key)
            if made is not None:
                return Again(self._meal_view(made), new=False)
            row = await session.scalar(
                select(FavouriteRow).where(FavouriteRow.id == favourite_id, FavouriteRow.user_id == user_id)
            )
            if row is None:
                return None
            favourite = self._favourite(row)
            return await self._new_draft(session, user, favourite.caption, favourite.foods, eaten_at, key)

    async def made_from(self, user_id: int, key: int) -> MealView | None:
        """The meal a repeat keyed `key` made (draft or saved), if it made one."""
        async with self._read() as session:
            made = await self._made(session, user_id, key)
            return self._meal_view(made) if made is not None else None

    # -- helpers -------------------------------------------------------------------------------------

    async def _new_draft(
        self,
        session: AsyncSession,
        user: User,
        caption: str | None,
        foods: Sequence[RepeatFood],
        eaten_at: datetime,
        key: int | None,
    ) -> Again:
        if eaten_at.tzinfo is None or eaten_at.utcoffset() is None:
            raise ValueError("eaten_at must be timezone-aware")
        items = []
        for position, food in enumerate(foods[:MAX_ITEMS]):
            item = MealItem(
                position=position,
                food_key=food.food_key,
                grams=check_grams(food.grams),
                source=check_source(AGAIN_SOURCE),
                confidence=None,
                model_key=None,
            )
            set_macros(item, food.macros)
            items.append(item)
        now = self._now()
        meal = Meal(
            user_id=user.id,
            status=MealStatus.DRAFT,
            source_message_id=key,
            eaten_at=eaten_at.astimezone(UTC),
            local_date=local_date_of(eaten_at, user.timezone),
            caption=caption,
            created_at=now,
            updated_at=now,
            items=items,
            prediction=None,
        )
        session.add(meal)
        await session.flush()
        return Again(self._meal_view(meal), new=True)

    async def _lock_person(self, session: AsyncSession, user_id: int) -> User | None:
        """The person's row, locked for the transaction (PostgreSQL; SQLite has one writer anyway)."""
        return await session.scalar(select(User).where(User.id == user_id).with_for_update())

    async def _made(self, session: AsyncSession, user_id: int, key: int | None) -> Meal | None:
        if key is None:
            return None
        return await session.scalar(
            meals_query()
            .where(Meal.user_id == user_id, Meal.source_message_id == key)
            .order_by(Meal.id)
            .limit(1)
        )

    async def _meal(
        self, session: AsyncSession, user_id: int, meal_id: int, status: MealStatus
    ) -> Meal | None:
        return await session.scalar(
            meals_query().where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == status)
        )

    async def _by_signature(self, session: AsyncSession, user_id: int, key: str) -> FavouriteRow | None:
        return await session.scalar(
            select(FavouriteRow).where(FavouriteRow.user_id == user_id, FavouriteRow.signature == key)
        )

    def _favourite(self, row: FavouriteRow) -> Favourite:
        """The view of a favourite; entries that do not read as a food are left out."""
        foods = [food for entry in row.foods or () if (food := self._food(entry)) is not None]
        return Favourite(row.id, row.caption, tuple(foods), row.created_at)

    def _food(self, entry: Any) -> RepeatFood | None:
        if not isinstance(entry, list) or len(entry) != 6 or not isinstance(entry[0], str):
            return None
        try:
            grams, kcal, protein, fat, carbs = (float(value) for value in entry[1:])
        except (TypeError, ValueError):
            return None
        if not all(math.isfinite(v) for v in (grams, kcal, protein, fat, carbs)) or grams <= 0:
            return None
        return RepeatFood(entry[0], self._table.name_of(entry[0]), grams, Macros(kcal, protein, fat, carbs))


def _signature(meal: Meal) -> str:
    return signature(item.food_key for item in meal.items)
