"""What every store shares: its sessions, the nutrition table, and the rules for ids from outside."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from meallog.db.engine import WRITE
from meallog.db.models import Meal
from meallog.nutrition import NutritionTable
from meallog.store.views import MealView, meal_view
from meallog.summary_times import utc_now

#: Ids are 32-bit integers in the database; anything outside cannot name a row.
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    """Whether an id from callback data could name a row at all (a forged one gives None, not an error)."""
    return isinstance(value, int) and 0 < value <= MAX_ID


def meals_query() -> Select[Meal]:
    """Meals with their items and prediction loaded up front, as `meal_view` needs them."""
    return select(Meal).options(selectinload(Meal.items), selectinload(Meal.prediction))


#: One lock per SQLite engine (per database file in this process), shared by every store on it.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _writer_lock(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """The lock that lines up this process's writers on a SQLite database; None for other databases.

    SQLite lets one writer in at a time; a second connection that tries meanwhile is put to sleep by
    its busy handler (1, 2, 5 … up to 100 ms at a time) and finds the lock free only by chance. Under a
    burst that sleeping, not the writing, is the cost. Queued on an asyncio lock instead, each writer
    starts the moment the one before it commits. Other processes on the same file still meet the busy
    handler, as before.
    """
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    return _SQLITE_WRITERS.setdefault(bind.sync_engine, asyncio.Lock())


Clock = Callable[[], datetime]
"""The current instant, aware UTC: `utc_now`, or a test's clock."""


class Store:
    """A store over an async sessionmaker: short read sessions and one transaction per change.

    `clock` stamps what the store writes (`created_at`, `updated_at`, the day a summary is planned
    from); the bot passes its application's clock, so a test that sets the time sets it everywhere.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._writer = _writer_lock(sessions)
        self._now = clock

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that will write: committed on success, rolled back on an exception."""
        async with contextlib.AsyncExitStack() as stack:
            if self._writer is not None:
                await stack.enter_async_context(self._writer)
            session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(session.begin())
            await session.connection(execution_options=WRITE)
            yield session


class TableStore(Store):
    """A store that hands out meals: their items are named (and priced, when they change) from the table."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], table: NutritionTable, clock: Clock = utc_now
    ) -> None:
        super().__init__(sessions, clock)
        self._table = table

    def _meal_view(self, meal: Meal) -> MealView:
        return meal_view(meal, self._table)
