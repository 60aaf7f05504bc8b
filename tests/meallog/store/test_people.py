"""People: created once on first contact, their zone and pending prompt; unknown zones or people refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.db.models import User
from meallog.local_time import local_date_of
from meallog.prompts import Prompt, PromptKind
from meallog.store.people import PeopleStore
from tests.meallog.store.conftest import ALICE


async def test_people_are_created_once_and_keep_their_settings(
    people: PeopleStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    carol = await people.ensure_user(3003, chat_id=30)
    assert (carol.id, carol.chat_id, carol.timezone, carol.settings, carol.goals, carol.pending) == (
        3003,
        30,
        "UTC",
        {},
        {},
        None,
    )
    assert carol.blocked_at is None

    await people.set_timezone(3003, "America/New_York")
    await people.set_pending(3003, Prompt(PromptKind.SEARCH, meal_id=5, item_id=0))
    async with sessions.begin() as session:  # as a summary that found the bot blocked (403) leaves it
        await session.execute(update(User).where(User.id == 3003).values(blocked_at=datetime.now(UTC)))
    blocked = await people.get_user(3003)
    assert blocked is not None and blocked.blocked_at is not None

    again = await people.ensure_user(3003, chat_id=31)  # they wrote again: from a new chat, unblocked
    assert (again.chat_id, again.timezone, again.blocked_at) == (31, "America/New_York", None)
    assert again.pending is not None and again.pending.asked_at is not None, "stamped when asked"
    assert replace(again.pending, asked_at=None) == Prompt(PromptKind.SEARCH, meal_id=5, item_id=0)
    async with sessions.begin() as session:  # stored in the shape earlier versions wrote: no migration
        stored = await session.scalar(select(User.pending).where(User.id == 3003))
    assert stored is not None and stored.pop("asked_at")
    assert stored == {"kind": "search", "meal_id": 5, "item_id": 0}

    await people.set_pending(3003, None)
    cleared = await people.get_user(3003)
    assert cleared is not None and cleared.pending is None
    assert await people.get_user(9999) is None


async def test_a_new_person_writing_to_two_processes_at_once_is_created_once(people: PeopleStore) -> None:
    views = await asyncio.gather(*(people.ensure_user(5005, chat_id=50) for _ in range(4)))

    assert {(v.id, v.chat_id) for v in views} == {(5005, 50)}
    assert await people.get_user(5005) == views[0]


async def test_unknown_time_zones_and_people_are_refused(people: PeopleStore) -> None:
    for bad in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(ValueError):
            await people.set_timezone(ALICE, bad)
    with pytest.raises(LookupError):
        await people.set_timezone(9999, "UTC")
    await people.set_pending(9999, Prompt(PromptKind.GRAMS))  # a no-op, not an error
    user = await people.get_user(ALICE)
    assert user is not None and user.timezone == "UTC"


def test_local_date_of_follows_the_zone() -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
    assert local_date_of(late, "Europe/Oslo") == date(2025, 3, 15)
    assert local_date_of(late, "UTC") == date(2025, 3, 14)
    assert local_date_of(datetime(2025, 3, 14, 3, 0, tzinfo=UTC), "America/Los_Angeles") == date(2025, 3, 13)
    with pytest.raises(ValueError):
        local_date_of(datetime(2025, 3, 14, 12, 0), "UTC")
