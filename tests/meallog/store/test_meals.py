"""Meals: drafts and their items, saving, reading back, deleting; what a stranger's or forged id gets."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.db.models import User
from meallog.prompts import Prompt, PromptKind
from meallog.store.corrections import CorrectionStore
from meallog.store.meals import MealStore
from meallog.store.people import PeopleStore
from meallog.store.views import NewItem
from model.recognition import Recognition
from tests.meallog.store.conftest import (
    ALICE,
    BOB,
    FOODS,
    MODEL_FOODS,
    NOON,
    TABLE,
    draft_ids,
    food,
    item_of,
    make_table,
    photo_draft,
    typed_meal,
)

# -- drafts ----------------------------------------------------------------------------------------------


async def test_photo_draft_shows_model_items_with_their_macros_and_total(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    meal = await photo_draft(meals)

    assert meal.status == "draft" and meal.user_id == ALICE
    assert [(i.food_key, i.name, i.grams, i.portion_name) for i in meal.items] == [
        ("pizza", "Pizza", 107, "1 slice"),
        ("salad", "Green salad", 150, "1 bowl"),
    ]
    pizza, salad = meal.items
    assert pizza.source == "model" and pizza.confidence == pytest.approx(0.62)
    assert pizza.macros.kcal == pytest.approx(266 * 1.07)
    assert pizza.macros.protein_g == pytest.approx(11 * 1.07)
    assert salad.macros.carbs_g == pytest.approx(3.5 * 1.5)
    assert meal.total.kcal == pytest.approx(266 * 1.07 + 20 * 1.5)
    assert meal.total.fat_g == pytest.approx(10 * 1.07 + 0.2 * 1.5)
    assert meal.prediction is not None
    assert meal.prediction.bundle_id == "test-bundle-1"
    assert meal.prediction.foods == MODEL_FOODS
    assert meal.prediction.labels == (("pizza", 0.62), ("salad", 0.41), ("plate", 0.2))
    assert not meal.prediction.no_food
    assert meal.eaten_at == NOON and meal.local_date == date(2025, 3, 14)
    assert (meal.photo_file_id, meal.photo_unique_id, meal.caption) == ("file-1", "unique-1", "lunch")

    assert await meals.get_meal(meal.id, ALICE) == meal
    assert await draft_ids(sessions, ALICE) == [meal.id]


async def test_a_photo_the_model_could_not_read_stores_no_prediction(meals: MealStore) -> None:
    failed = Recognition.failed("test-bundle-1", "I couldn't open that photo.")
    meal = await meals.start_draft(ALICE, eaten_at=NOON, photo_file_id="f", recognition=failed, items=[])

    assert meal.prediction is None and meal.items == () and meal.total.kcal == 0


async def test_bad_items_are_refused_before_anything_is_stored(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for bad in (
        NewItem("unicorn", 100),
        NewItem("rice", 0),
        NewItem("rice", 5001),
        NewItem("rice", 100, "guess"),
    ):
        with pytest.raises(ValueError):
            await meals.start_draft(ALICE, eaten_at=NOON, items=[bad])
    with pytest.raises(ValueError):
        await meals.start_draft(ALICE, eaten_at=datetime(2025, 3, 14, 12), items=[])  # naive
    with pytest.raises(LookupError):
        await meals.start_draft(4242, eaten_at=NOON, items=[])
    assert await draft_ids(sessions, ALICE) == []


async def test_portions_and_set_grams_recompute_macros(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    pizza = item_of(meal, "pizza")

    doubled = await meals.set_portions(meal.id, pizza, ALICE, 2)
    assert doubled is not None
    assert doubled.items[0].grams == 214 and doubled.items[0].source == "model"
    assert doubled.items[0].macros.kcal == pytest.approx(266 * 2.14)

    again = await meals.set_portions(meal.id, pizza, ALICE, 2)
    assert again is not None and again.items[0].grams == 214, "2× twice is still two portions"
    halved = await meals.set_portions(meal.id, pizza, ALICE, 0.5)
    assert halved is not None and halved.items[0].grams == 53.5, "half a portion, not half of two"
    back = await meals.set_portions(meal.id, pizza, ALICE, 1)
    assert back is not None and back.items[0].grams == 107, "1× is the way back to the default portion"

    typed = await meals.set_item_grams(meal.id, pizza, ALICE, 250)
    assert typed is not None and typed.items[0].grams == 250
    assert typed.items[0].macros.carbs_g == pytest.approx(33 * 2.5)
    assert typed.total.kcal == pytest.approx(266 * 2.5 + 20 * 1.5)

    capped = await meals.set_portions(meal.id, pizza, ALICE, 100)  # a button never pushes past 5 kg
    assert capped is not None and capped.items[0].grams == 5000
    assert await corrections.corrections(ALICE) == []  # portions are not corrections of the model


async def test_grams_out_of_range_are_refused(meals: MealStore) -> None:
    meal = await photo_draft(meals)
    pizza = item_of(meal, "pizza")

    for grams in (0, -5, 5000.5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            await meals.set_item_grams(meal.id, pizza, ALICE, grams)
    for factor in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            await meals.set_portions(meal.id, pizza, ALICE, factor)
    with pytest.raises(ValueError):
        await meals.add_item(meal.id, ALICE, "egg", grams=6000)
    with pytest.raises(ValueError):
        await meals.change_item_food(meal.id, pizza, ALICE, "unicorn")
    assert await meals.get_meal(meal.id, ALICE) == meal


# -- saving ----------------------------------------------------------------------------------------------


async def test_saving_freezes_the_numbers_against_later_table_changes(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession], database: str
) -> None:
    meal = await photo_draft(meals)
    saved = await meals.save_meal(meal.id, ALICE)
    assert saved is not None and saved.status == "saved"
    assert saved.items == meal.items
    assert await draft_ids(sessions, ALICE) == []

    # The table is rebuilt with other numbers (and a new name): the saved meal keeps its numbers.
    engine = make_engine(database)
    try:
        richer = make_table(
            food("pizza", "Pizza, thin crust", 999, 99, 99, 99, 50, "1 piece"),
            *(f for f in FOODS if f.key != "pizza"),
        )
        later = MealStore(make_sessionmaker(engine), richer)
        reread = await later.get_meal(meal.id, ALICE)
        assert reread is not None
        assert reread.total == saved.total
        assert reread.items[0].macros == saved.items[0].macros
        assert reread.items[0].grams == 107
        assert reread.items[0].name == "Pizza, thin crust"  # names are the table's, read now
    finally:
        await engine.dispose()


async def test_a_saved_meal_cannot_be_changed_through_draft_methods(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    saved = await meals.save_meal(meal.id, ALICE)
    assert saved is not None
    pizza = item_of(saved, "pizza")

    assert await meals.change_item_food(meal.id, pizza, ALICE, "apple") is None
    assert await meals.remove_item(meal.id, pizza, ALICE) is None
    assert await meals.set_portions(meal.id, pizza, ALICE, 2) is None
    assert await meals.set_item_grams(meal.id, pizza, ALICE, 10) is None
    assert await meals.add_item(meal.id, ALICE, "egg") is None
    assert await meals.save_meal(meal.id, ALICE) is None
    assert await meals.discard_draft(meal.id, ALICE) is False
    assert await meals.get_meal(meal.id, ALICE) == saved
    assert await corrections.corrections() == []


async def test_another_person_can_neither_read_nor_change_a_meal(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    meal = await photo_draft(meals)
    pizza = item_of(meal, "pizza")

    assert await meals.get_meal(meal.id, BOB) is None
    assert await meals.change_item_food(meal.id, pizza, BOB, "apple") is None
    assert await meals.remove_item(meal.id, pizza, BOB) is None
    assert await meals.set_portions(meal.id, pizza, BOB, 2) is None
    assert await meals.set_item_grams(meal.id, pizza, BOB, 10) is None
    assert await meals.add_item(meal.id, BOB, "egg") is None
    assert await meals.save_meal(meal.id, BOB) is None
    assert await meals.discard_draft(meal.id, BOB) is False
    assert await draft_ids(sessions, BOB) == []
    assert await meals.get_meal(meal.id, ALICE) == meal

    saved = await meals.save_meal(meal.id, ALICE)
    assert saved is not None
    assert await meals.delete_meal(meal.id, BOB) is False
    assert await meals.meals_on(BOB, meal.local_date) == []
    assert await meals.last_saved(BOB) is None
    assert await meals.get_meal(meal.id, ALICE) == saved


async def test_stale_or_forged_ids_give_none_not_errors(meals: MealStore) -> None:
    meal = await photo_draft(meals)
    other = await photo_draft(meals)
    salad = item_of(meal, "salad")
    await meals.remove_item(meal.id, salad, ALICE)

    for meal_id, item_id in (
        (meal.id, salad),
        (other.id, item_of(meal, "pizza")),
        (10**15, 1),
        (meal.id, -3),
    ):
        assert await meals.change_item_food(meal_id, item_id, ALICE, "apple") is None
        assert await meals.set_portions(meal_id, item_id, ALICE, 2) is None
        assert await meals.set_item_grams(meal_id, item_id, ALICE, 10) is None
        assert await meals.remove_item(meal_id, item_id, ALICE) is None
    for meal_id in (0, -1, 10**15, 2**31):
        assert await meals.get_meal(meal_id, ALICE) is None
        assert await meals.add_item(meal_id, ALICE, "egg") is None
        assert await meals.save_meal(meal_id, ALICE) is None
        assert await meals.discard_draft(meal_id, ALICE) is False
        assert await meals.delete_meal(meal_id, ALICE) is False
        await meals.set_card(meal_id, 1, 2)


async def test_discard_removes_the_draft_and_its_id_is_never_reused(
    meals: MealStore, corrections: CorrectionStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    meal = await photo_draft(meals)
    await meals.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")

    assert await meals.discard_draft(meal.id, ALICE) is True
    assert await meals.get_meal(meal.id, ALICE) is None
    assert await draft_ids(sessions, ALICE) == []
    assert await meals.discard_draft(meal.id, ALICE) is False
    [correction] = await corrections.corrections(ALICE)  # what the person told us about the photo stays
    assert correction.meal_id is None and correction.final_key == "apple"

    # Buttons of the discarded card still carry its id: they must not reach the next meal.
    following = await photo_draft(meals)
    assert following.id != meal.id
    assert {i.id for i in following.items}.isdisjoint(i.id for i in meal.items)


async def test_the_card_message_is_remembered(meals: MealStore) -> None:
    meal = await photo_draft(meals)

    await meals.set_card(meal.id, chat_id=ALICE, message_id=77)

    again = await meals.get_meal(meal.id, ALICE)
    assert again is not None and (again.card_chat_id, again.card_message_id) == (ALICE, 77)


# -- days, history, deletion -----------------------------------------------------------------------------


async def test_meals_on_is_the_persons_local_day(meals: MealStore) -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)  # 00:30 on the 15th in Oslo (UTC+1 in March)
    early = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)
    bob_breakfast = await typed_meal(meals, BOB, early, "egg")
    bob_late = await typed_meal(meals, BOB, late, "apple")
    alice_late = await typed_meal(meals, ALICE, late, "rice")
    await meals.start_draft(BOB, eaten_at=early + timedelta(hours=1), items=[NewItem("rice", 100, "typed")])

    assert bob_late.local_date == date(2025, 3, 15)
    assert alice_late.local_date == date(2025, 3, 14)
    assert await meals.meals_on(BOB, date(2025, 3, 14)) == [bob_breakfast]  # drafts are not logged meals
    assert await meals.meals_on(BOB, date(2025, 3, 15)) == [bob_late]
    assert await meals.meals_on(ALICE, date(2025, 3, 14)) == [alice_late]


async def test_meals_of_a_day_come_in_the_order_they_were_eaten(meals: MealStore) -> None:
    dinner = await typed_meal(meals, ALICE, NOON + timedelta(hours=6), "rice")
    breakfast = await typed_meal(meals, ALICE, NOON - timedelta(hours=4), "egg")
    lunch = await typed_meal(meals, ALICE, NOON, "pizza")

    assert [m.id for m in await meals.meals_on(ALICE, NOON.date())] == [breakfast.id, lunch.id, dinner.id]
    assert await meals.last_saved(ALICE) == lunch  # the one saved last, not the one eaten last


async def test_deleting_a_person_removes_all_they_logged(
    people: PeopleStore, meals: MealStore, corrections: CorrectionStore, database: str
) -> None:
    meal = await photo_draft(meals)
    await meals.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")
    await meals.save_meal(meal.id, ALICE)
    await photo_draft(meals)
    bobs = await photo_draft(meals, BOB)
    await meals.remove_item(bobs.id, item_of(bobs, "salad"), BOB)

    engine = make_engine(database)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(delete(User).where(User.id == ALICE))
        async with engine.connect() as connection:
            counts = {
                table: (
                    await connection.execute(
                        text(f"SELECT count(*) FROM {table} WHERE {column} = :u"), {"u": ALICE}
                    )
                ).scalar_one()
                for table, column in (("meals", "user_id"), ("corrections", "user_id"))
            }
            orphans = (
                await connection.execute(
                    text("SELECT count(*) FROM meal_items WHERE meal_id NOT IN (SELECT id FROM meals)")
                )
            ).scalar_one()
            predictions = (await connection.execute(text("SELECT count(*) FROM predictions"))).scalar_one()
    finally:
        await engine.dispose()

    assert counts == {"meals": 0, "corrections": 0} and orphans == 0
    assert predictions == 1  # Bob's
    assert await people.get_user(ALICE) is None
    assert await meals.get_meal(meal.id, ALICE) is None
    assert await meals.get_meal(bobs.id, BOB) is not None
    assert [c.kind for c in await corrections.corrections()] == ["removed"]


async def test_drafts_survive_a_restart(people: PeopleStore, meals: MealStore, database: str) -> None:
    meal = await photo_draft(meals)
    changed = await meals.change_item_food(meal.id, item_of(meal, "salad"), ALICE, "rice")
    await people.set_pending(ALICE, Prompt(PromptKind.GRAMS, meal_id=meal.id, item_id=item_of(meal, "pizza")))

    engine = make_engine(database)  # a new process: new engine, new stores, same database
    try:
        sessions = make_sessionmaker(engine)
        restarted = MealStore(sessions, TABLE)
        assert changed is not None and await draft_ids(sessions, ALICE) == [meal.id]
        assert await restarted.get_meal(meal.id, ALICE) == changed
        user = await PeopleStore(sessions).get_user(ALICE)
        assert user is not None
        assert user.pending is not None
        assert replace(user.pending, asked_at=None) == Prompt(
            PromptKind.GRAMS, meal_id=meal.id, item_id=item_of(meal, "pizza")
        )
        saved = await restarted.save_meal(meal.id, ALICE)
        assert saved is not None and changed is not None
        assert saved.items == changed.items
    finally:
        await engine.dispose()


async def test_concurrent_edits_of_one_draft_all_apply(meals: MealStore) -> None:
    """Two button presses at once (say from two bot processes) must not lose either change."""
    meal = await meals.start_draft(ALICE, eaten_at=NOON, items=[])

    results = await asyncio.gather(
        *(meals.add_item(meal.id, ALICE, key) for key in ("egg", "rice", "apple", "pizza"))
    )

    assert all(result is not None for result in results)
    final = await meals.get_meal(meal.id, ALICE)
    assert final is not None
    assert sorted(i.food_key for i in final.items) == ["apple", "egg", "pizza", "rice"]
    assert len({i.position for i in final.items}) == 4


async def test_foods_a_message_added_are_split_off_once_and_their_correction_goes(
    meals: MealStore, corrections: CorrectionStore
) -> None:
    meal = await photo_draft(meals)
    joined = await meals.add_item(meal.id, ALICE, "apple", 100, "typed", source_message_id=77)
    assert joined is not None and [c.kind for c in await corrections.corrections(ALICE)] == ["added"]

    found = await meals.split_message_items(meal.id, ALICE, 77)
    assert found is not None
    rest, split = found
    assert [i.food_key for i in rest.items] == ["pizza", "salad"]
    assert [(i.food_key, i.grams) for i in split.items] == [("apple", 100)]
    assert split.status == "draft" and split.id != meal.id
    assert await corrections.corrections(ALICE) == [], "the apple is no longer a fix of the photo"
    assert await meals.from_message(ALICE, 77) == split, "a retried message finds the split meal"

    assert await meals.split_message_items(meal.id, ALICE, 77) is None, "pressed twice: once"
    assert await meals.split_message_items(split.id, ALICE, 77) is None, "all of a meal: nothing to split"
    assert await meals.split_message_items(meal.id, BOB, 77) is None


async def test_the_foods_of_one_message_join_a_meal_all_or_none(meals: MealStore) -> None:
    from meallog.store.meals import TooManyItems

    meal = await photo_draft(meals)
    joined = await meals.add_items(
        meal.id, ALICE, [NewItem("apple", 100, "typed"), NewItem("salad", 50, "typed")], source_message_id=9
    )
    assert joined is not None and [i.food_key for i in joined.items] == ["pizza", "salad", "apple", "salad"]
    assert await meals.from_message(ALICE, 9) == joined
    too_many = [NewItem("apple", 10, "typed")] * 29
    with pytest.raises(TooManyItems):
        await meals.add_items(meal.id, ALICE, too_many, source_message_id=10)
    after = await meals.get_meal(meal.id, ALICE)
    assert after is not None and len(after.items) == 4, "none of a refused message's foods were added"
