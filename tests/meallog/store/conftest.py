"""The stores as a person meets them, on SQLite (a migrated temp file) and on PostgreSQL.

Each test starts from empty tables in a database migrated with `upgrade_database`; the nutrition
table is a small one made here, so the numbers are easy to check by hand (per 100 g).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.db.models import Base, Meal
from meallog.migrate import upgrade_database
from meallog.nutrition import Food, NutritionTable
from meallog.store.corrections import CorrectionStore
from meallog.store.meals import MealStore
from meallog.store.people import PeopleStore
from meallog.store.views import MealView, NewItem
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


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head with `upgrade_database`, shared by the package's tests."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("store") / "foodbot.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_database(url)
        yield url
        return
    with scratch_postgres_database(postgres_url()) as url:
        upgrade_database(url)
        yield url


@pytest.fixture
async def sessions(database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions over empty tables, with Alice (UTC) and Bob (Europe/Oslo) known."""
    engine = make_engine(database)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    sessions = make_sessionmaker(engine)
    people = PeopleStore(sessions)
    await people.ensure_user(ALICE, chat_id=ALICE)
    await people.ensure_user(BOB, chat_id=BOB)
    await people.set_timezone(BOB, "Europe/Oslo")
    yield sessions
    await engine.dispose()


@pytest.fixture
def people(sessions: async_sessionmaker[AsyncSession]) -> PeopleStore:
    return PeopleStore(sessions)


@pytest.fixture
def meals(sessions: async_sessionmaker[AsyncSession]) -> MealStore:
    return MealStore(sessions, TABLE)


@pytest.fixture
def corrections(sessions: async_sessionmaker[AsyncSession]) -> CorrectionStore:
    return CorrectionStore(sessions)


# -- meals as the bot makes them -------------------------------------------------------------------------


async def photo_draft(meals: MealStore, user_id: int = ALICE, eaten_at: datetime = NOON) -> MealView:
    """A photo meal as the bot makes it: the model's present foods at their default portions."""
    return await meals.start_draft(
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
    meals: MealStore, user_id: int, eaten_at: datetime, key: str = "rice", grams: float = 100
) -> MealView:
    draft = await meals.start_draft(user_id, eaten_at=eaten_at, items=[NewItem(key, grams, source="typed")])
    saved = await meals.save_meal(draft.id, user_id)
    assert saved is not None
    return saved


async def draft_ids(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[int]:
    """The person's draft ids, oldest first, from the tables: the bot never lists drafts, so no store does."""
    async with sessions() as session:
        found = await session.scalars(
            select(Meal.id)
            .where(Meal.user_id == user_id, Meal.status == "draft")
            .order_by(Meal.created_at, Meal.id)
        )
        return list(found)


def item_of(meal: MealView, key: str) -> int:
    return next(item.id for item in meal.items if item.food_key == key)
