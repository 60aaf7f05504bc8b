"""People's own foods in the database, and each process's copy of them (two stores: two processes)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.my_foods import MyFoodError, parse_my_food
from meallog.store.my_foods import MyFoodStore
from meallog.store.people import PeopleStore
from tests.meallog.store.conftest import ALICE

BOB = ALICE + 1
PIE = parse_my_food("Grandma's pie 120 g: 300 kcal, 4 protein, 14 fat, 40 carbs")


async def test_a_food_defined_in_one_process_is_known_in_another_after_a_refresh(
    sessions: async_sessionmaker[AsyncSession], people: PeopleStore
) -> None:
    await people.ensure_user(ALICE, ALICE)
    await people.ensure_user(BOB, BOB)
    here, there = MyFoodStore(sessions), MyFoodStore(sessions)
    pie = await here.create(ALICE, PIE)
    assert here.lookup(pie.key) == pie and here.active(ALICE) == (pie,)
    assert there.lookup(pie.key) is None

    await there.refresh_many([ALICE, BOB])  # the daily summaries' way: one query for many people
    assert there.lookup(pie.key) == pie and there.active(BOB) == ()

    await here.delete(ALICE, int(pie.key.removeprefix("my_")))
    alice = await people.get_user(ALICE)
    assert alice is not None
    await there.refresh(ALICE, alice.my_foods_version)  # a message's way: the row read anyway
    assert there.active(ALICE) == () and there.lookup(pie.key) == pie, "the name stays for logged meals"


async def test_nobody_else_can_read_change_or_delete_a_food(
    sessions: async_sessionmaker[AsyncSession], people: PeopleStore
) -> None:
    await people.ensure_user(ALICE, ALICE)
    await people.ensure_user(BOB, BOB)
    store = MyFoodStore(sessions)
    pie = await store.create(ALICE, PIE)
    pie_id = int(pie.key.removeprefix("my_"))
    assert await store.get(BOB, pie.key) is None
    assert await store.change(BOB, pie_id, PIE) is None
    assert await store.delete(BOB, pie_id) is None
    assert await store.foods(BOB) == ()
    assert await store.get(ALICE, pie.key) == pie
    with pytest.raises(MyFoodError, match="already"):
        await store.create(ALICE, PIE)
    assert await store.create(BOB, PIE) is not None, "names are per person"
