"""Daily summaries in the database: planning who is due when, claiming them, recording what was sent.

`bot.schedule` drives these each minute; the claim is one conditional UPDATE, so any number of bot
processes on one database send each summary once. Batched reads (`meals_on_days`) keep a tick to a
few queries however many people are due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.types import Date

from meallog.db.models import Meal, MealStatus, User
from meallog.store.base import TableStore, meals_query
from meallog.store.views import MealView, SummaryClaim, SummaryOutcome
from meallog.summary_times import first_due


class SummaryStore(TableStore):
    """The summary schedule's rows: due times, claims and the last day summed up, per person."""

    async def plan_summaries(self, now: datetime, limit: int = 1000) -> int:
        """Give people never planned (new, or migrated) their first due time; returns how many."""
        async with self._write() as session:
            rows = (
                await session.execute(
                    select(User.id, User.timezone, User.summary_minute, User.summary_last_date)
                    .where(User.summary_due_at.is_(None))
                    .limit(limit)
                )
            ).all()
            if not rows:
                return 0
            users = cast(Table, User.__table__)
            await session.execute(
                update(users)
                .where(users.c.id == bindparam("b_id"), users.c.summary_due_at.is_(None))
                .values(summary_due_at=bindparam("b_due")),
                [
                    {
                        "b_id": row.id,
                        "b_due": first_due(now, row.summary_minute, row.timezone, row.summary_last_date),
                    }
                    for row in rows
                ],
            )
            return len(rows)

    async def claim_due_summaries(self, now: datetime, limit: int, lease: timedelta) -> list[SummaryClaim]:
        """Claim up to `limit` people whose summary is due at `now`, with one conditional UPDATE.

        Due: summaries on, not blocked, due time reached, and nobody holds the claim (or the holder has
        not finished within `lease`, e.g. its process died). On PostgreSQL the candidate rows are locked
        with SKIP LOCKED, so concurrent processes claim disjoint sets without waiting on each other, and
        the UPDATE re-checks the condition on the newest row version; SQLite runs one writer at a time.
        Either way each person is claimed by one process only.
        """
        condition = and_(
            User.summaries_on.is_(True),
            User.blocked_at.is_(None),
            User.summary_due_at <= now,
            or_(User.summary_claimed_at.is_(None), User.summary_claimed_at < now - lease),
        )
        candidates = (
            select(User.id)
            .where(condition)
            .order_by(User.summary_due_at, User.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(User)
            .where(User.id.in_(candidates), condition)
            .values(summary_claimed_at=now)
            .returning(
                User.id,
                User.chat_id,
                User.timezone,
                User.summary_minute,
                User.summary_due_at,
                User.summary_last_date,
                User.settings,
                User.goals,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._write() as session:
            rows = (await session.execute(stmt)).all()
        return [
            SummaryClaim(
                user_id=row.id,
                chat_id=row.chat_id,
                timezone=row.timezone,
                summary_minute=row.summary_minute,
                due_at=row.summary_due_at,
                claimed_at=now,
                last_date=row.summary_last_date,
                settings=dict(row.settings or {}),
                goals=dict(row.goals or {}),
            )
            for row in sorted(rows, key=lambda r: (r.summary_due_at, r.id))
        ]

    async def finish_summaries(self, outcomes: Sequence[SummaryOutcome], now: datetime) -> None:
        """Record what became of claimed summaries, in one transaction.

        Only a claim still held (same `claimed_at`) is changed: one that expired and was taken over by
        another process is left to that process.
        """
        if not outcomes:
            return
        users = cast(Table, User.__table__)
        held = and_(users.c.id == bindparam("b_id"), users.c.summary_claimed_at == bindparam("b_claimed"))
        done = [o for o in outcomes if o.next_due_at is not None and not o.blocked]
        blocked = [o for o in outcomes if o.next_due_at is not None and o.blocked]
        released = [o for o in outcomes if o.next_due_at is None]
        async with self._write() as session:
            if done:
                await session.execute(
                    update(users)
                    .where(held)
                    .values(
                        summary_due_at=bindparam("b_due"),
                        summary_claimed_at=None,
                        summary_last_date=func.coalesce(
                            bindparam("b_day", type_=Date()), users.c.summary_last_date
                        ),
                    ),
                    [
                        {"b_id": o.user_id, "b_claimed": o.claimed_at, "b_due": o.next_due_at, "b_day": o.day}
                        for o in done
                    ],
                )
            if blocked:
                await session.execute(
                    update(users)
                    .where(held)
                    .values(summary_due_at=bindparam("b_due"), summary_claimed_at=None, blocked_at=now),
                    [{"b_id": o.user_id, "b_claimed": o.claimed_at, "b_due": o.next_due_at} for o in blocked],
                )
            if released:
                await session.execute(
                    update(users).where(held).values(summary_claimed_at=None),
                    [{"b_id": o.user_id, "b_claimed": o.claimed_at} for o in released],
                )

    async def meals_on_days(self, days: Iterable[tuple[int, date]]) -> dict[tuple[int, date], list[MealView]]:
        """Saved meals for many (person, local day) pairs at once, each list in the order eaten."""
        wanted = sorted(set(days))
        found: dict[tuple[int, date], list[MealView]] = {pair: [] for pair in wanted}
        if not wanted:
            return found
        async with self._read() as session:
            meals = await session.scalars(
                meals_query()
                .where(tuple_(Meal.user_id, Meal.local_date).in_(wanted), Meal.status == MealStatus.SAVED)
                .order_by(Meal.eaten_at, Meal.id)
            )
            for meal in meals:
                found[(meal.user_id, meal.local_date)].append(self._meal_view(meal))
        return found
