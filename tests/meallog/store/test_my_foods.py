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


async def test_a_copy_older_than_forget_is_never_taken_for_current(
    sessions: async_sessionmaker[AsyncSession], people: PeopleStore
) -> None:
    from meallog.store.account import AccountStore
    from tests.meallog.store.conftest import TABLE

    await people.ensure_user(ALICE, ALICE)
    here, there = MyFoodStore(sessions), MyFoodStore(sessions)
    await here.create(ALICE, parse_my_food("Secret pie: 300 kcal, 4 protein, 14 fat, 40 carbs"))
    alice = await people.get_user(ALICE)
    assert alice is not None
    await there.refresh(ALICE, alice.my_foods_version)
    assert [f.name for f in there.active(ALICE)] == ["Secret pie"]

    await AccountStore(sessions, TABLE).forget_user(ALICE)
    await people.ensure_user(ALICE, ALICE)
    await here.create(ALICE, parse_my_food("Soup: 60 kcal, 3 protein, 2 fat, 8 carbs"))
    alice = await people.get_user(ALICE)
    assert alice is not None
    await there.refresh(ALICE, alice.my_foods_version)
    assert [f.name for f in there.active(ALICE)] == ["Soup"]


async def test_undo_respects_the_limit_and_the_names(
    sessions: async_sessionmaker[AsyncSession], people: PeopleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import meallog.store.my_foods as module

    monkeypatch.setattr(module, "MAX_MY_FOODS", 2)
    await people.ensure_user(ALICE, ALICE)
    store = MyFoodStore(sessions)
    pie = await store.create(ALICE, PIE)
    pie_id = int(pie.key.removeprefix("my_"))
    await store.delete(ALICE, pie_id)
    await store.create(ALICE, PIE)  # the same name again
    with pytest.raises(MyFoodError, match="already"):
        await store.delete(ALICE, pie_id, restore=True)
    await store.create(ALICE, parse_my_food("Soup: 60 kcal, 3 protein, 2 fat, 8 carbs"))
    with pytest.raises(MyFoodError, match="2 foods already"):
        await store.create(ALICE, parse_my_food("Stew: 90 kcal, 6 protein, 4 fat, 8 carbs"))
