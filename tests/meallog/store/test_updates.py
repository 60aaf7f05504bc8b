"""The journal of updates on SQLite and PostgreSQL: recorded once, claimed by one process at a time,
taken over when a holder's lease runs out, retried after a backoff, forgotten with the person."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.store.account import AccountStore
from meallog.store.people import PeopleStore
from meallog.store.updates import KEEP, UpdateStore
from tests.meallog.store.conftest import ALICE, BOB, NOON, TABLE

LEASE = timedelta(seconds=30)


def _update(update_id: int, user_id: int = ALICE) -> tuple[int, int | None, dict[str, object]]:
    return update_id, user_id, {"update_id": update_id, "message": {"text": f"meal {update_id}"}}


async def test_an_update_recorded_twice_is_new_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = UpdateStore(sessions)
    assert await store.record([_update(1), _update(2)], NOON) == {1, 2}
    assert await store.record([_update(2), _update(3)], NOON) == {3}
    assert await store.state_of(2) == "new"


async def test_one_claim_at_a_time_even_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = UpdateStore(sessions)
    await store.record([_update(7)], NOON)
    claims = await asyncio.gather(*(store.claim(7, f"p{n}", NOON, LEASE) for n in range(5)))
    assert sorted(claims, key=lambda c: c is None) == [1, None, None, None, None]


async def test_a_dead_holders_update_is_taken_over_after_its_lease(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = UpdateStore(sessions)
    await store.record([_update(10), _update(11)], NOON)
    assert await store.claim(10, "dead", NOON, LEASE) == 1
    assert [u.update_id for u in await store.due(NOON, 10)] == [11], "10 is held, 11 never claimed"
    assert await store.claim(10, "alive", NOON + LEASE / 2, LEASE) is None
    later = NOON + LEASE
    assert [u.update_id for u in await store.due(later, 10)] == [10, 11]
    assert await store.claim(10, "alive", later, LEASE) == 2, "the second try"
    await store.finish(10, "dead", later)  # the dead process cannot finish what it no longer holds
    assert await store.state_of(10) == "new"
    await store.finish(10, "alive", later)
    assert await store.state_of(10) == "done"
    assert await store.claim(10, "third", later + LEASE * 3, LEASE) is None, "done is done"


async def test_a_living_holder_keeps_its_updates_by_renewing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = UpdateStore(sessions)
    await store.record([_update(20)], NOON)
    await store.claim(20, "alive", NOON, LEASE)
    await store.renew([20], "alive", NOON + LEASE * 2)
    assert await store.due(NOON + LEASE, 10) == []
    assert [u.update_id for u in await store.due(NOON + LEASE * 2, 10)] == [20]


async def test_a_retry_waits_for_its_time_then_anyone_takes_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = UpdateStore(sessions)
    await store.record([_update(30)], NOON)
    await store.claim(30, "a", NOON, LEASE)
    await store.retry_later(30, "a", NOON + timedelta(seconds=4), "Bad Gateway")
    assert await store.due(NOON + timedelta(seconds=3), 10) == []
    (pending,) = await store.due(NOON + timedelta(seconds=4), 10)
    assert pending.update_id == 30 and pending.attempts == 1
    assert pending.payload["message"] == {"text": "meal 30"}
    assert await store.claim(30, "b", NOON + timedelta(seconds=4), LEASE) == 2


async def test_handled_updates_keep_no_payload_and_are_pruned_after_keep(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = UpdateStore(sessions)
    await store.record([_update(40), _update(41)], NOON)
    await store.claim(40, "a", NOON, LEASE)
    await store.fail(40, "a", NOON, "a bug")
    assert await store.state_of(40) == "failed"
    assert await store.prune(NOON + KEEP + timedelta(seconds=1)) == 1, "the unfinished one stays"
    assert await store.state_of(40) is None and await store.state_of(41) == "new"


async def test_forget_deletes_what_the_person_sent(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = UpdateStore(sessions)
    await PeopleStore(sessions).ensure_user(ALICE, ALICE)
    await store.record([_update(50, ALICE), _update(51, BOB)], NOON)
    counts = await AccountStore(sessions, TABLE).forget_user(ALICE)
    assert counts["updates"] == 1
    assert await store.state_of(50) is None and await store.state_of(51) == "new"


async def test_an_update_recorded_by_a_process_is_held_by_it_from_the_start(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = UpdateStore(sessions)
    assert await store.record([_update(60)], NOON, "receiver", LEASE) == {60}
    assert await store.claim(60, "other", NOON, LEASE) is None
    assert await store.due(NOON, 10) == []
    (pending,) = await store.due(NOON + LEASE, 10)  # the receiver died before handling it
    assert pending.attempts == 1
    assert await store.claim(60, "other", NOON + LEASE, LEASE) == 2
