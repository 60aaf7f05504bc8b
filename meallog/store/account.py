"""A person's whole record: day totals for the history, every meal for the export, and forgetting them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import CursorResult

from meallog.db.models import Base, Meal, MealItem, MealStatus
from meallog.portions import Macros
from meallog.store.base import TableStore, meals_query
from meallog.store.views import MealView


class AccountStore(TableStore):
    """Everything held about one person at once, to look back over, take away, or delete."""

    async def day_totals(self, user_id: int, first: date, last: date) -> dict[date, Macros]:
        """Per local day from `first` to `last` (both included): the saved meals' macros (zero if none)."""
        stmt = (
            select(
                Meal.local_date,
                func.coalesce(func.sum(MealItem.kcal), 0.0),
                func.coalesce(func.sum(MealItem.protein_g), 0.0),
                func.coalesce(func.sum(MealItem.fat_g), 0.0),
                func.coalesce(func.sum(MealItem.carbs_g), 0.0),
            )
            .join(MealItem, MealItem.meal_id == Meal.id)
            .where(
                Meal.user_id == user_id,
                Meal.status == MealStatus.SAVED,
                Meal.local_date >= first,
                Meal.local_date <= last,
            )
            .group_by(Meal.local_date)
        )
        days = {first + timedelta(days=n): Macros(0.0, 0.0, 0.0, 0.0) for n in range((last - first).days + 1)}
        async with self._read() as session:
            for day, kcal, protein, fat, carbs in (await session.execute(stmt)).all():
                days[day] = Macros(float(kcal), float(protein), float(fat), float(carbs))
        return days

    async def all_meals(self, user_id: int) -> list[MealView]:
        """Every meal of the person, saved and draft, in the order eaten (for the export)."""
        async with self._read() as session:
            meals = await session.scalars(
                meals_query().where(Meal.user_id == user_id).order_by(Meal.eaten_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete everything held about the person, in every table; returns rows deleted per table.

        Follows the foreign keys from `users`: a row goes when it refers to the person, or to a row
        that goes (their meals' items and predictions, corrections of their photos), or names the person
        in a `user_id` column without a foreign key (the updates they sent). Tables are emptied
        children first, so each delete can still find its parents. Tables added later are covered.
        """
        tables = list(Base.metadata.sorted_tables)
        doomed: dict[str, Any] = {}
        for table in tables:  # parents before children
            conditions = []
            if table.name == "users":
                conditions.append(table.c.id == user_id)
            elif "user_id" in table.c and not table.foreign_keys:
                conditions.append(table.c.user_id == user_id)  # the journal of updates: no foreign key
            for fk in table.foreign_keys:
                parent = fk.column.table
                if parent.name == table.name or parent.name not in doomed:
                    continue
                conditions.append(fk.parent.in_(select(fk.column).where(doomed[parent.name])))
            if conditions:
                doomed[table.name] = or_(*conditions)
        counts: dict[str, int] = {}
        async with self._write() as session:
            for table in reversed(tables):
                if table.name in doomed:
                    result = await session.execute(delete(table).where(doomed[table.name]))
                    counts[table.name] = int(cast(CursorResult[Any], result).rowcount)
        return counts
