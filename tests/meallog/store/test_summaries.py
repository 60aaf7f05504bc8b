"""The summary claim in the database: one holder at a time, taken over only after the lease, on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.nutrition import default_table
from meallog.store.people import PeopleStore
from meallog.store.summaries import SummaryStore
from meallog.store.views import SummaryOutcome

LEASE = timedelta(minutes=10)
NOW = datetime(2026, 6, 1, 19, 0, 5, tzinfo=UTC)  # 21:00:05 in Oslo


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database with three people in Oslo, none planned yet.

    It stands in for the package's `sessions` here, so the package's `people` works on it too.
    """
    url = f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    people = PeopleStore(sessions)
    for user_id in (1, 2, 3):
        await people.ensure_user(user_id, user_id)
        await people.set_timezone(user_id, "Europe/Oslo")
    yield sessions
    await engine.dispose()


@pytest.fixture
def summaries(sessions: async_sessionmaker[AsyncSession]) -> SummaryStore:
    return SummaryStore(sessions, default_table())


async def test_planning_then_claiming_in_batches(summaries: SummaryStore) -> None:
    assert await summaries.claim_due_summaries(NOW, 10, LEASE) == [], "nobody is planned yet"
    assert await summaries.plan_summaries(NOW - timedelta(hours=1)) == 3
    assert await summaries.plan_summaries(NOW) == 0, "planned once"
    first = await summaries.claim_due_summaries(NOW, 2, LEASE)
    second = await summaries.claim_due_summaries(NOW, 2, LEASE)
    assert [c.user_id for c in first] == [1, 2] and [c.user_id for c in second] == [3]
    assert await summaries.claim_due_summaries(NOW, 10, LEASE) == []
    assert first[0].due_at == datetime(2026, 6, 1, 19, tzinfo=UTC) and first[0].timezone == "Europe/Oslo"


async def test_a_dead_holder_loses_the_claim_after_the_lease_and_its_late_report_is_ignored(
    summaries: SummaryStore, people: PeopleStore
) -> None:
    await summaries.plan_summaries(NOW - timedelta(hours=1))
    held = await summaries.claim_due_summaries(NOW, 1, LEASE)
    later = NOW + LEASE - timedelta(seconds=1)
    assert [c.user_id for c in await summaries.claim_due_summaries(later, 10, LEASE)] == [2, 3]
    assert await summaries.claim_due_summaries(later, 10, LEASE) == []
    taken_over = await summaries.claim_due_summaries(NOW + LEASE + timedelta(seconds=1), 10, LEASE)
    assert [c.user_id for c in taken_over] == [1]

    # The first holder wakes up and reports: the claim is no longer its own, so nothing changes.
    await summaries.finish_summaries(
        [SummaryOutcome(1, held[0].claimed_at, NOW + timedelta(days=1), NOW.date())], NOW
    )
    person = await people.get_user(1)
    assert person is not None and person.summary_last_date is None
    # The new holder's report counts.
    await summaries.finish_summaries(
        [SummaryOutcome(1, taken_over[0].claimed_at, NOW + timedelta(days=1), NOW.date())], NOW
    )
    person = await people.get_user(1)
    assert person is not None and person.summary_last_date == NOW.date()


async def test_released_claims_are_due_again_and_blocked_people_are_not(
    summaries: SummaryStore, people: PeopleStore
) -> None:
    await summaries.plan_summaries(NOW - timedelta(hours=1))
    claims = await summaries.claim_due_summaries(NOW, 10, LEASE)
    await summaries.finish_summaries(
        [
            SummaryOutcome(1, claims[0].claimed_at, None),
            SummaryOutcome(2, claims[1].claimed_at, NOW + timedelta(days=1), blocked=True),
            SummaryOutcome(3, claims[2].claimed_at, NOW + timedelta(days=1), NOW.date()),
        ],
        NOW,
    )
    again = NOW + timedelta(minutes=1)
    assert [c.user_id for c in await summaries.claim_due_summaries(again, 10, LEASE)] == [1]
    blocked = await people.get_user(2)
    assert blocked is not None and blocked.blocked_at == NOW
    later = NOW + timedelta(days=2)
    assert [c.user_id for c in await summaries.claim_due_summaries(later, 10, LEASE)] == [1, 3], (
        "not 2: blocked"
    )
    assert await people.unblock(2) and not await people.unblock(2)
    assert [c.user_id for c in await summaries.claim_due_summaries(later, 10, LEASE)] == [2]


async def test_summaries_switched_off_are_never_claimed(summaries: SummaryStore, people: PeopleStore) -> None:
    await summaries.plan_summaries(NOW - timedelta(hours=1))
    await people.set_summary(1, NOW - timedelta(hours=1), on=False)
    assert [c.user_id for c in await summaries.claim_due_summaries(NOW, 10, LEASE)] == [2, 3]
