"""The meal log as a person meets it, on SQLite (a migrated temp file) and on PostgreSQL.

Each test starts from empty tables in a database migrated with `upgrade_database`; the nutrition
table is a small one made here, so the numbers are easy to check by hand (per 100 g).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Base, User
from bot.local_time import local_date_of
from bot.meal_log import MealLog, MealView, NewItem
from bot.migrate import upgrade_database
from bot.nutrition import Food, NutritionTable
from model.recognition import RankedFood, Recognition
from tests.services import postgres_url, scratch_postgres_database

ALICE, BOB = 1001, 2002
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def food(
    key: str, name: str, kcal: float, protein: float, fat: float, carbs: float, grams: float, portion: str
) -> Food:
    return Food(
        key=key,
        name=name,
        kcal=kcal,
        protein_g=protein,
        fat_g=fat,
        carbs_g=carbs,
        portion_g=grams,
        portion_name=portion,
    )


def make_table(*foods: Food) -> NutritionTable:
    return NutritionTable(foods)


FOODS = (
    food("pizza", "Pizza", 266, 11, 10, 33, 107, "1 slice"),
    food("salad", "Green salad", 20, 1.5, 0.2, 3.5, 150, "1 bowl"),
    food("apple", "Apple", 52, 0.3, 0.2, 14, 182, "1 medium"),
    food("rice", "Rice, cooked", 130, 2.7, 0.3, 28, 158, "1 cup"),
    food("egg", "Egg", 143, 12.6, 9.5, 0.7, 50, "1 large"),
)
TABLE = make_table(*FOODS)

RECOGNITION = Recognition(
    foods=(
        RankedFood("pizza", "Pizza", 0.62, True),
        RankedFood("salad", "Green salad", 0.41, True),
        RankedFood("apple", "Apple", 0.08, False),
    ),
    no_food=False,
    bundle_id="test-bundle-1",
    food_mass=0.9,
    labels=(("pizza", 0.62), ("salad", 0.41), ("plate", 0.2)),
)
MODEL_FOODS = (("pizza", 0.62), ("salad", 0.41), ("apple", 0.08))


# -- databases -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head with `upgrade_database`, shared by the module's tests."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("meal_log") / "foodbot.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_database(url)
        yield url
        return
    with scratch_postgres_database(postgres_url()) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
async def log(database: str) -> AsyncIterator[MealLog]:
    """A MealLog over empty tables, with Alice (UTC) and Bob (Europe/Oslo) known."""
    engine = make_engine(database)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    meal_log = MealLog(make_sessionmaker(engine), TABLE)
    await meal_log.ensure_user(ALICE, chat_id=ALICE)
    await meal_log.ensure_user(BOB, chat_id=BOB)
    await meal_log.set_timezone(BOB, "Europe/Oslo")
    yield meal_log
    await engine.dispose()


async def photo_draft(log: MealLog, user_id: int = ALICE, eaten_at: datetime = NOON) -> MealView:
    """A photo meal as the bot makes it: the model's present foods at their default portions."""
    return await log.start_draft(
        user_id,
        eaten_at=eaten_at,
        photo_file_id="file-1",
        photo_unique_id="unique-1",
        caption="lunch",
        recognition=RECOGNITION,
        items=[
            NewItem("pizza", 107, confidence=0.62),
            NewItem("salad", 150, confidence=0.41),
        ],
    )


async def typed_meal(
    log: MealLog, user_id: int, eaten_at: datetime, key: str = "rice", grams: float = 100
) -> MealView:
    draft = await log.start_draft(user_id, eaten_at=eaten_at, items=[NewItem(key, grams, source="typed")])
    saved = await log.save_meal(draft.id, user_id)
    assert saved is not None
    return saved


def item_of(meal: MealView, key: str) -> int:
    return next(item.id for item in meal.items if item.food_key == key)


# -- drafts ----------------------------------------------------------------------------------------------


async def test_photo_draft_shows_model_items_with_their_macros_and_total(log: MealLog) -> None:
    meal = await photo_draft(log)

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

    assert await log.get_meal(meal.id, ALICE) == meal
    assert await log.drafts(ALICE) == [meal]


async def test_a_photo_the_model_could_not_read_stores_no_prediction(log: MealLog) -> None:
    failed = Recognition.failed("test-bundle-1", "I couldn't open that photo.")
    meal = await log.start_draft(ALICE, eaten_at=NOON, photo_file_id="f", recognition=failed, items=[])

    assert meal.prediction is None and meal.items == () and meal.total.kcal == 0


async def test_bad_items_are_refused_before_anything_is_stored(log: MealLog) -> None:
    for bad in (
        NewItem("unicorn", 100),
        NewItem("rice", 0),
        NewItem("rice", 5001),
        NewItem("rice", 100, "guess"),
    ):
        with pytest.raises(ValueError):
            await log.start_draft(ALICE, eaten_at=NOON, items=[bad])
    with pytest.raises(ValueError):
        await log.start_draft(ALICE, eaten_at=datetime(2025, 3, 14, 12), items=[])  # naive
    with pytest.raises(LookupError):
        await log.start_draft(4242, eaten_at=NOON, items=[])
    assert await log.drafts(ALICE) == []


async def test_change_item_food_takes_the_new_food_default_portion_and_records_a_correction(
    log: MealLog,
) -> None:
    meal = await photo_draft(log)

    changed = await log.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")

    assert changed is not None
    first = changed.items[0]
    assert (first.food_key, first.name, first.grams, first.source) == ("apple", "Apple", 182, "changed")
    assert first.confidence == pytest.approx(0.08)  # the model's score for the food now chosen
    assert first.macros.kcal == pytest.approx(52 * 1.82)
    assert changed.total.kcal == pytest.approx(52 * 1.82 + 20 * 1.5)
    [correction] = await log.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("changed", "pizza", "apple")
    assert correction.model_foods == MODEL_FOODS
    assert (correction.photo_file_id, correction.photo_unique_id) == ("file-1", "unique-1")
    assert (correction.bundle_id, correction.meal_id, correction.user_id) == ("test-bundle-1", meal.id, ALICE)


async def test_changing_a_food_twice_keeps_one_correction_and_changing_it_back_drops_it(log: MealLog) -> None:
    meal = await photo_draft(log)
    pizza = item_of(meal, "pizza")

    await log.change_item_food(meal.id, pizza, ALICE, "apple")
    await log.change_item_food(meal.id, pizza, ALICE, "rice")
    [correction] = await log.corrections(ALICE)
    assert (correction.model_key, correction.final_key) == ("pizza", "rice")

    back = await log.change_item_food(meal.id, pizza, ALICE, "pizza")
    assert back is not None and back.items[0].food_key == "pizza"
    assert await log.corrections(ALICE) == []

    await log.change_item_food(meal.id, pizza, ALICE, "egg")
    [again] = await log.corrections(ALICE)
    assert (again.kind, again.model_key, again.final_key) == ("changed", "pizza", "egg")


async def test_removing_a_model_food_records_removed(log: MealLog) -> None:
    meal = await photo_draft(log)

    left = await log.remove_item(meal.id, item_of(meal, "salad"), ALICE)

    assert left is not None and [i.food_key for i in left.items] == ["pizza"]
    assert left.total.kcal == pytest.approx(266 * 1.07)
    [correction] = await log.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("removed", "salad", None)
    assert correction.meal_id == meal.id


async def test_removing_a_changed_food_records_the_model_food_as_removed(log: MealLog) -> None:
    meal = await photo_draft(log)
    pizza = item_of(meal, "pizza")
    await log.change_item_food(meal.id, pizza, ALICE, "apple")

    await log.remove_item(meal.id, pizza, ALICE)

    [correction] = await log.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("removed", "pizza", None)


async def test_adding_a_food_uses_its_default_portion_and_records_added(log: MealLog) -> None:
    meal = await photo_draft(log)

    added = await log.add_item(meal.id, ALICE, "egg")
    assert added is not None
    egg = added.items[-1]
    assert (egg.food_key, egg.grams, egg.source, egg.confidence) == ("egg", 50, "typed", None)
    assert egg.macros.protein_g == pytest.approx(12.6 * 0.5)
    assert added.total.kcal == pytest.approx(266 * 1.07 + 20 * 1.5 + 143 * 0.5)
    [correction] = await log.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("added", None, "egg")

    with_grams = await log.add_item(meal.id, ALICE, "rice", grams=200)
    assert with_grams is not None and with_grams.items[-1].grams == 200
    assert [i.food_key for i in with_grams.items] == ["pizza", "salad", "egg", "rice"]
    assert [i.position for i in with_grams.items] == sorted({i.position for i in with_grams.items})

    # An added food changed is still an addition; added then removed is no correction at all.
    rice = with_grams.items[-1].id
    await log.change_item_food(meal.id, rice, ALICE, "apple")
    await log.remove_item(meal.id, item_of(with_grams, "egg"), ALICE)
    [correction] = await log.corrections(ALICE)
    assert (correction.kind, correction.model_key, correction.final_key) == ("added", None, "apple")


async def test_a_meal_without_a_photo_records_no_corrections(log: MealLog) -> None:
    meal = await log.start_draft(ALICE, eaten_at=NOON, items=[NewItem("rice", 158, source="typed")])

    await log.change_item_food(meal.id, meal.items[0].id, ALICE, "pizza")
    await log.add_item(meal.id, ALICE, "egg")

    assert await log.corrections() == []


async def test_scale_and_set_grams_recompute_macros(log: MealLog) -> None:
    meal = await photo_draft(log)
    pizza = item_of(meal, "pizza")

    doubled = await log.scale_item(meal.id, pizza, ALICE, 2)
    assert doubled is not None
    assert doubled.items[0].grams == 214 and doubled.items[0].source == "model"
    assert doubled.items[0].macros.kcal == pytest.approx(266 * 2.14)

    halved = await log.scale_item(meal.id, pizza, ALICE, 0.5)
    assert halved is not None and halved.items[0].grams == 107

    typed = await log.set_item_grams(meal.id, pizza, ALICE, 250)
    assert typed is not None and typed.items[0].grams == 250
    assert typed.items[0].macros.carbs_g == pytest.approx(33 * 2.5)
    assert typed.total.kcal == pytest.approx(266 * 2.5 + 20 * 1.5)

    capped = await log.scale_item(meal.id, pizza, ALICE, 100)  # a button never pushes past 5 kg
    assert capped is not None and capped.items[0].grams == 5000
    assert await log.corrections(ALICE) == []  # portions are not corrections of the model


async def test_grams_out_of_range_are_refused(log: MealLog) -> None:
    meal = await photo_draft(log)
    pizza = item_of(meal, "pizza")

    for grams in (0, -5, 5000.5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            await log.set_item_grams(meal.id, pizza, ALICE, grams)
    for factor in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            await log.scale_item(meal.id, pizza, ALICE, factor)
    with pytest.raises(ValueError):
        await log.add_item(meal.id, ALICE, "egg", grams=6000)
    with pytest.raises(ValueError):
        await log.change_item_food(meal.id, pizza, ALICE, "unicorn")
    assert await log.get_meal(meal.id, ALICE) == meal


# -- saving ----------------------------------------------------------------------------------------------


async def test_saving_freezes_the_numbers_against_later_table_changes(log: MealLog, database: str) -> None:
    meal = await photo_draft(log)
    saved = await log.save_meal(meal.id, ALICE)
    assert saved is not None and saved.status == "saved"
    assert saved.items == meal.items
    assert await log.drafts(ALICE) == []

    # The table is rebuilt with other numbers (and a new name): the saved meal keeps its numbers.
    engine = make_engine(database)
    try:
        richer = make_table(
            food("pizza", "Pizza, thin crust", 999, 99, 99, 99, 50, "1 piece"),
            *(f for f in FOODS if f.key != "pizza"),
        )
        later = MealLog(make_sessionmaker(engine), richer)
        reread = await later.get_meal(meal.id, ALICE)
        assert reread is not None
        assert reread.total == saved.total
        assert reread.items[0].macros == saved.items[0].macros
        assert reread.items[0].grams == 107
        assert reread.items[0].name == "Pizza, thin crust"  # names are the table's, read now
    finally:
        await engine.dispose()


async def test_a_saved_meal_cannot_be_changed_through_draft_methods(log: MealLog) -> None:
    meal = await photo_draft(log)
    saved = await log.save_meal(meal.id, ALICE)
    assert saved is not None
    pizza = item_of(saved, "pizza")

    assert await log.change_item_food(meal.id, pizza, ALICE, "apple") is None
    assert await log.remove_item(meal.id, pizza, ALICE) is None
    assert await log.scale_item(meal.id, pizza, ALICE, 2) is None
    assert await log.set_item_grams(meal.id, pizza, ALICE, 10) is None
    assert await log.add_item(meal.id, ALICE, "egg") is None
    assert await log.save_meal(meal.id, ALICE) is None
    assert await log.discard_draft(meal.id, ALICE) is False
    assert await log.get_meal(meal.id, ALICE) == saved
    assert await log.corrections() == []


async def test_another_person_can_neither_read_nor_change_a_meal(log: MealLog) -> None:
    meal = await photo_draft(log)
    pizza = item_of(meal, "pizza")

    assert await log.get_meal(meal.id, BOB) is None
    assert await log.change_item_food(meal.id, pizza, BOB, "apple") is None
    assert await log.remove_item(meal.id, pizza, BOB) is None
    assert await log.scale_item(meal.id, pizza, BOB, 2) is None
    assert await log.set_item_grams(meal.id, pizza, BOB, 10) is None
    assert await log.add_item(meal.id, BOB, "egg") is None
    assert await log.save_meal(meal.id, BOB) is None
    assert await log.discard_draft(meal.id, BOB) is False
    assert await log.drafts(BOB) == []
    assert await log.get_meal(meal.id, ALICE) == meal

    saved = await log.save_meal(meal.id, ALICE)
    assert saved is not None
    assert await log.delete_meal(meal.id, BOB) is False
    assert await log.meals_on(BOB, meal.local_date) == []
    assert await log.last_saved(BOB) is None
    assert await log.get_meal(meal.id, ALICE) == saved


async def test_stale_or_forged_ids_give_none_not_errors(log: MealLog) -> None:
    meal = await photo_draft(log)
    other = await photo_draft(log)
    salad = item_of(meal, "salad")
    await log.remove_item(meal.id, salad, ALICE)

    for meal_id, item_id in (
        (meal.id, salad),
        (other.id, item_of(meal, "pizza")),
        (10**15, 1),
        (meal.id, -3),
    ):
        assert await log.change_item_food(meal_id, item_id, ALICE, "apple") is None
        assert await log.scale_item(meal_id, item_id, ALICE, 2) is None
        assert await log.set_item_grams(meal_id, item_id, ALICE, 10) is None
        assert await log.remove_item(meal_id, item_id, ALICE) is None
    for meal_id in (0, -1, 10**15, 2**31):
        assert await log.get_meal(meal_id, ALICE) is None
        assert await log.add_item(meal_id, ALICE, "egg") is None
        assert await log.save_meal(meal_id, ALICE) is None
        assert await log.discard_draft(meal_id, ALICE) is False
        assert await log.delete_meal(meal_id, ALICE) is False
        await log.set_card(meal_id, 1, 2)


async def test_discard_removes_the_draft_and_its_id_is_never_reused(log: MealLog) -> None:
    meal = await photo_draft(log)
    await log.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")

    assert await log.discard_draft(meal.id, ALICE) is True
    assert await log.get_meal(meal.id, ALICE) is None
    assert await log.drafts(ALICE) == []
    assert await log.discard_draft(meal.id, ALICE) is False
    [correction] = await log.corrections(ALICE)  # what the person told us about the photo stays
    assert correction.meal_id is None and correction.final_key == "apple"

    # Buttons of the discarded card still carry its id: they must not reach the next meal.
    following = await photo_draft(log)
    assert following.id != meal.id
    assert {i.id for i in following.items}.isdisjoint(i.id for i in meal.items)


async def test_the_card_message_is_remembered(log: MealLog) -> None:
    meal = await photo_draft(log)

    await log.set_card(meal.id, chat_id=ALICE, message_id=77)

    again = await log.get_meal(meal.id, ALICE)
    assert again is not None and (again.card_chat_id, again.card_message_id) == (ALICE, 77)


# -- days, history, deletion -------------------------------------------------------------------------------


async def test_meals_on_is_the_persons_local_day(log: MealLog) -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)  # 00:30 on the 15th in Oslo (UTC+1 in March)
    early = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)
    bob_breakfast = await typed_meal(log, BOB, early, "egg")
    bob_late = await typed_meal(log, BOB, late, "apple")
    alice_late = await typed_meal(log, ALICE, late, "rice")
    await log.start_draft(BOB, eaten_at=early + timedelta(hours=1), items=[NewItem("rice", 100, "typed")])

    assert bob_late.local_date == date(2025, 3, 15)
    assert alice_late.local_date == date(2025, 3, 14)
    assert await log.meals_on(BOB, date(2025, 3, 14)) == [bob_breakfast]  # drafts are not logged meals
    assert await log.meals_on(BOB, date(2025, 3, 15)) == [bob_late]
    assert await log.meals_on(ALICE, date(2025, 3, 14)) == [alice_late]


async def test_meals_of_a_day_come_in_the_order_they_were_eaten(log: MealLog) -> None:
    dinner = await typed_meal(log, ALICE, NOON + timedelta(hours=6), "rice")
    breakfast = await typed_meal(log, ALICE, NOON - timedelta(hours=4), "egg")
    lunch = await typed_meal(log, ALICE, NOON, "pizza")

    assert [m.id for m in await log.meals_on(ALICE, NOON.date())] == [breakfast.id, lunch.id, dinner.id]
    assert await log.last_saved(ALICE) == lunch  # the one saved last, not the one eaten last


async def test_deleting_a_saved_meal_keeps_its_corrections_without_the_link(log: MealLog) -> None:
    meal = await photo_draft(log)
    await log.remove_item(meal.id, item_of(meal, "salad"), ALICE)
    saved = await log.save_meal(meal.id, ALICE)
    assert saved is not None

    assert await log.delete_meal(meal.id, BOB) is False
    assert await log.delete_meal(meal.id, ALICE) is True
    assert await log.delete_meal(meal.id, ALICE) is False

    assert await log.get_meal(meal.id, ALICE) is None
    assert await log.meals_on(ALICE, saved.local_date) == []
    [correction] = await log.corrections(ALICE)
    assert correction.meal_id is None
    assert (correction.kind, correction.model_key, correction.photo_file_id) == ("removed", "salad", "file-1")


async def test_deleting_a_person_removes_all_they_logged(log: MealLog, database: str) -> None:
    meal = await photo_draft(log)
    await log.change_item_food(meal.id, item_of(meal, "pizza"), ALICE, "apple")
    await log.save_meal(meal.id, ALICE)
    await photo_draft(log)
    bobs = await photo_draft(log, BOB)
    await log.remove_item(bobs.id, item_of(bobs, "salad"), BOB)

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
    assert await log.get_user(ALICE) is None
    assert await log.get_meal(meal.id, ALICE) is None
    assert await log.get_meal(bobs.id, BOB) is not None
    assert [c.kind for c in await log.corrections()] == ["removed"]


async def test_drafts_survive_a_restart(log: MealLog, database: str) -> None:
    meal = await photo_draft(log)
    changed = await log.change_item_food(meal.id, item_of(meal, "salad"), ALICE, "rice")
    await log.set_pending(ALICE, {"kind": "grams", "meal_id": meal.id, "item_id": item_of(meal, "pizza")})

    engine = make_engine(database)  # a new process: new engine, new MealLog, same database
    try:
        restarted = MealLog(make_sessionmaker(engine), TABLE)
        assert await restarted.drafts(ALICE) == [changed]
        user = await restarted.get_user(ALICE)
        assert user is not None
        assert user.pending == {"kind": "grams", "meal_id": meal.id, "item_id": item_of(meal, "pizza")}
        saved = await restarted.save_meal(meal.id, ALICE)
        assert saved is not None and changed is not None
        assert saved.items == changed.items
    finally:
        await engine.dispose()


async def test_concurrent_edits_of_one_draft_all_apply(log: MealLog) -> None:
    """Two button presses at once (say from two bot processes) must not lose either change."""
    meal = await log.start_draft(ALICE, eaten_at=NOON, items=[])

    results = await asyncio.gather(
        *(log.add_item(meal.id, ALICE, key) for key in ("egg", "rice", "apple", "pizza"))
    )

    assert all(result is not None for result in results)
    final = await log.get_meal(meal.id, ALICE)
    assert final is not None
    assert sorted(i.food_key for i in final.items) == ["apple", "egg", "pizza", "rice"]
    assert len({i.position for i in final.items}) == 4


# -- people ----------------------------------------------------------------------------------------------


async def test_people_are_created_once_and_keep_their_settings(log: MealLog) -> None:
    carol = await log.ensure_user(3003, chat_id=30)
    assert (carol.id, carol.chat_id, carol.timezone, carol.settings, carol.goals, carol.pending) == (
        3003,
        30,
        "UTC",
        {},
        {},
        None,
    )
    assert carol.blocked_at is None

    await log.set_timezone(3003, "America/New_York")
    await log.set_pending(3003, {"kind": "search", "meal_id": 5, "item_id": 0})
    await log.mark_blocked(3003)
    blocked = await log.get_user(3003)
    assert blocked is not None and blocked.blocked_at is not None

    again = await log.ensure_user(3003, chat_id=31)  # they wrote again: from a new chat, unblocked
    assert (again.chat_id, again.timezone, again.blocked_at) == (31, "America/New_York", None)
    assert again.pending == {"kind": "search", "meal_id": 5, "item_id": 0}

    await log.set_pending(3003, None)
    cleared = await log.get_user(3003)
    assert cleared is not None and cleared.pending is None
    assert await log.get_user(9999) is None


async def test_a_new_person_writing_to_two_processes_at_once_is_created_once(log: MealLog) -> None:
    views = await asyncio.gather(*(log.ensure_user(5005, chat_id=50) for _ in range(4)))

    assert {(v.id, v.chat_id) for v in views} == {(5005, 50)}
    assert await log.get_user(5005) == views[0]


async def test_unknown_time_zones_and_people_are_refused(log: MealLog) -> None:
    for bad in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(ValueError):
            await log.set_timezone(ALICE, bad)
    with pytest.raises(LookupError):
        await log.set_timezone(9999, "UTC")
    await log.set_pending(9999, {"kind": "grams"})  # a no-op, not an error
    user = await log.get_user(ALICE)
    assert user is not None and user.timezone == "UTC"


def test_local_date_of_follows_the_zone() -> None:
    late = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
    assert local_date_of(late, "Europe/Oslo") == date(2025, 3, 15)
    assert local_date_of(late, "UTC") == date(2025, 3, 14)
    assert local_date_of(datetime(2025, 3, 14, 3, 0, tzinfo=UTC), "America/Los_Angeles") == date(2025, 3, 13)
    with pytest.raises(ValueError):
        local_date_of(datetime(2025, 3, 14, 12, 0), "UTC")
