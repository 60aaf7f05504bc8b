"""Logging a meal again: the rules (which meal is "yesterday's breakfast", what /again offers, typed asks)
and the store (drafts copied once, favourites), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.again import (
    MAX_FAVOURITES,
    AgainAsk,
    Favourite,
    Origin,
    RepeatFood,
    Slot,
    asked_day,
    asked_slot,
    choice_label,
    choices,
    list_text,
    pick_meal,
    read_again,
    signature,
    slot_of,
)
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.db.models import Base, MealStatus
from meallog.migrate import upgrade_database
from meallog.portions import Macros
from meallog.store.account import AccountStore
from meallog.store.meals import MealStore
from meallog.store.memory import MemoryStore
from meallog.store.people import PeopleStore
from meallog.store.repeats import RepeatStore, TooManyFavourites
from meallog.store.views import ItemView, MealView, NewItem
from meallog.text_fit import MAX_TEXT, visible_len
from model.recognition import encode_embedding
from tests.meallog.store.conftest import RECOGNITION, TABLE
from tests.services import postgres_url, scratch_postgres_database

ALICE, BOB = 1001, 2002
OSLO = "Europe/Oslo"
#: Thursday 7 May 2026, 08:00 in Oslo (UTC+2).
NOW = datetime(2026, 5, 7, 6, 0, tzinfo=UTC)


def oslo(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in Oslo in May 2026 (UTC+2), as the aware UTC instant."""
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC) - timedelta(hours=2)


# -- the rules -------------------------------------------------------------------------------------------


def meal_view(
    meal_id: int,
    eaten_at: datetime,
    foods: list[tuple[str, float, float]],
    caption: str | None = None,
) -> MealView:
    """A saved meal as the store hands it out: foods as (key, grams, kcal)."""
    items = tuple(
        ItemView(n, n, key, TABLE.name_of(key), grams, "", Macros(kcal, 1, 1, 1), "typed", None)
        for n, (key, grams, kcal) in enumerate(foods, 1)
    )
    return MealView(
        id=meal_id,
        user_id=ALICE,
        status=MealStatus.SAVED,
        eaten_at=eaten_at,
        local_date=eaten_at.date(),
        caption=caption,
        photo_file_id=None,
        photo_unique_id=None,
        card_chat_id=None,
        card_message_id=None,
        items=items,
        prediction=None,
    )


def favourite(fav_id: int, foods: list[tuple[str, float, float]], caption: str | None = None) -> Favourite:
    return Favourite(
        fav_id,
        caption,
        tuple(RepeatFood(k, TABLE.name_of(k), g, Macros(kcal, 1, 1, 1)) for k, g, kcal in foods),
        NOW,
    )


@pytest.mark.parametrize(
    ("wall", "slot"),
    [
        (time(0, 30), Slot.BREAKFAST),
        (time(7, 0), Slot.BREAKFAST),
        (time(10, 59), Slot.BREAKFAST),
        (time(11, 0), Slot.LUNCH),
        (time(15, 59), Slot.LUNCH),
        (time(16, 0), Slot.DINNER),
        (time(23, 59), Slot.DINNER),
    ],
)
def test_the_slot_of_a_meal_is_its_local_time_of_day(wall: time, slot: Slot) -> None:
    assert slot_of(wall) is slot


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        ("again", AgainAsk()),
        ("Same again!", AgainAsk()),
        ("same as last time", AgainAsk()),
        ("repeat", AgainAsk()),
        ("same as yesterday", AgainAsk(1, None)),
        ("Same as yesterday's breakfast", AgainAsk(1, Slot.BREAKFAST)),
        ("same as yesterday’s lunch.", AgainAsk(1, Slot.LUNCH)),
        ("same as yesterdays dinner", AgainAsk(1, Slot.DINNER)),
        ("yesterday's supper again", AgainAsk(1, Slot.DINNER)),
        ("yesterday breakfast", AgainAsk(1, Slot.BREAKFAST)),
        ("the same lunch as yesterday", AgainAsk(1, Slot.LUNCH)),
        ("same as today's breakfast", AgainAsk(0, Slot.BREAKFAST)),
        ("yesterday again", AgainAsk(1, None)),
        ("  SAME   AS   YESTERDAY  ", AgainAsk(1, None)),
    ],
)
def test_typed_asks_to_log_a_meal_again_are_understood(text: str, ask: AgainAsk) -> None:
    assert read_again(text) == ask


@pytest.mark.parametrize(
    "text",
    [
        "2 eggs",
        "yesterday",
        "same as today",
        "breakfast",
        "rice again and again",
        "",
        "again " * 30,
        "lunch 200 g",
    ],
)
def test_other_texts_are_not_asks(text: str) -> None:
    assert read_again(text) is None


def test_yesterday_is_the_persons_local_yesterday_and_the_slot_is_theirs_now() -> None:
    late = datetime(2026, 5, 7, 23, 30, tzinfo=UTC)  # 01:30 on Friday the 8th in Oslo
    assert asked_day(AgainAsk(1), late, OSLO) == date(2026, 5, 7)
    assert asked_day(AgainAsk(1), late, "UTC") == date(2026, 5, 6)
    assert asked_slot(AgainAsk(1), NOW, OSLO) is Slot.BREAKFAST  # 08:00 in Oslo
    assert asked_slot(AgainAsk(1), oslo(7, 12), OSLO) is Slot.LUNCH
    assert asked_slot(AgainAsk(1, Slot.DINNER), NOW, OSLO) is Slot.DINNER


def test_yesterdays_breakfast_is_the_biggest_meal_before_eleven_in_the_persons_zone() -> None:
    coffee = meal_view(1, oslo(6, 7), [("egg", 10, 30)])
    breakfast = meal_view(2, oslo(6, 9), [("egg", 100, 143), ("apple", 182, 95)])
    brunch = meal_view(3, oslo(6, 10, 45), [("rice", 100, 130)])
    lunch = meal_view(4, oslo(6, 12, 30), [("pizza", 300, 800)])  # 10:30 in UTC: lunch in Oslo
    empty = meal_view(5, oslo(6, 8), [])
    day = [coffee, empty, breakfast, brunch, lunch]

    assert pick_meal(day, Slot.BREAKFAST, OSLO) == breakfast
    assert pick_meal(day, Slot.LUNCH, OSLO) == lunch
    assert pick_meal(day, Slot.DINNER, OSLO) is None
    assert pick_meal(day, Slot.BREAKFAST, "UTC") == lunch, "in UTC the pizza was eaten at 10:30"
    twin = meal_view(6, oslo(6, 9, 30), [("egg", 100, 143), ("apple", 182, 95)])
    assert pick_meal([twin, breakfast], Slot.BREAKFAST, OSLO) == breakfast, "the earlier of equals"


def test_again_offers_favourites_first_then_each_set_of_foods_once_newest_first() -> None:
    porridge_today = meal_view(10, oslo(7, 7), [("apple", 150, 80), ("egg", 50, 70)], "Porridge")
    porridge_before = meal_view(9, oslo(6, 7), [("egg", 60, 85), ("apple", 182, 95)])
    pizza = meal_view(8, oslo(6, 19), [("pizza", 300, 800)])
    nothing = meal_view(7, oslo(6, 15), [])
    rice = meal_view(6, oslo(5, 12), [("rice", 200, 260)])
    starred_pizza = favourite(3, [("pizza", 200, 530)], "Friday pizza")

    found = choices([starred_pizza], [porridge_today, porridge_before, pizza, nothing, rice])

    assert [(c.origin, c.id) for c in found] == [
        (Origin.FAVOURITE, 3),
        (Origin.MEAL, 10),
        (Origin.MEAL, 6),
    ], "the pizza once, as the favourite; the porridge once, as last eaten; the empty meal left out"
    assert [choice_label(n, c) for n, c in enumerate(found, 1)] == [
        "1. ⭐ Friday pizza · 530 kcal",
        "2. Porridge · 150 kcal",
        "3. Rice, cooked · 260 kcal",
    ]
    assert len(choices([], [rice] * 20, recent_shown=8)) == 1
    many = [meal_view(n, oslo(6, 12), [(f"food{n}", 100, 100)]) for n in range(1, 20)]
    assert [c.id for c in choices([], many, recent_shown=5)] == [1, 2, 3, 4, 5]


def test_signature_is_the_foods_in_any_order() -> None:
    assert signature(["egg", "apple"]) == signature(["apple", "egg"])
    assert signature(["egg"]) != signature(["egg", "egg"])
    assert len(signature(["x" * 128] * 30)) == 64


def test_the_list_always_fits_one_message() -> None:
    foods = [(f"food_{n}_{'long' * 20}", 123.4, 250.0) for n in range(30)]
    favourites = [favourite(n, foods, "<b>&" * 300) for n in range(1, MAX_FAVOURITES + 1)]
    recent = [meal_view(100 + n, NOW, [*foods, (f"x{n}", 1, 1)]) for n in range(8)]
    found = choices(favourites, recent)
    text = list_text(found, "I found no breakfast yesterday.")
    assert len(found) == MAX_FAVOURITES + 8
    assert visible_len(text) <= MAX_TEXT
    assert "&lt;b&gt;&amp;" in text, "captions are escaped"
    assert all(len(choice_label(n, c)) <= 64 for n, c in enumerate(found, 1))


# -- the store -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head, shared by this module's store tests."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("again") / "foodbot.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade_database(url)
        yield url
        return
    with scratch_postgres_database(postgres_url(), prefix="foodbot_again") as url:
        upgrade_database(url)
        yield url


@pytest.fixture
async def sessions(database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Empty tables with Alice (Oslo) and Bob known."""
    engine = make_engine(database)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    sessions = make_sessionmaker(engine)
    people = PeopleStore(sessions)
    await people.ensure_user(ALICE, chat_id=ALICE)
    await people.ensure_user(BOB, chat_id=BOB)
    await people.set_timezone(ALICE, OSLO)
    yield sessions
    await engine.dispose()


@pytest.fixture
def meals(sessions: async_sessionmaker[AsyncSession]) -> MealStore:
    return MealStore(sessions, TABLE)


@pytest.fixture
def repeats(sessions: async_sessionmaker[AsyncSession]) -> RepeatStore:
    return RepeatStore(sessions, TABLE, lambda: NOW)


async def saved(
    meals: MealStore, items: list[NewItem], eaten_at: datetime, caption: str | None = None, user: int = ALICE
) -> MealView:
    draft = await meals.start_draft(user, eaten_at=eaten_at, items=items, caption=caption)
    meal = await meals.save_meal(draft.id, user)
    assert meal is not None
    return meal


async def test_a_meal_again_is_a_new_draft_with_its_foods_grams_and_name_dated_now(
    meals: MealStore, repeats: RepeatStore
) -> None:
    breakfast = await saved(
        meals, [NewItem("egg", 100, "typed"), NewItem("apple", 150, "typed")], oslo(6, 8), "Breakfast"
    )

    made = await repeats.again_from_meal(ALICE, breakfast.id, eaten_at=NOW, key=77)

    assert made is not None and made.new
    draft = made.meal
    assert draft.status == MealStatus.DRAFT and draft.id != breakfast.id
    assert draft.caption == "Breakfast" and draft.eaten_at == NOW and draft.local_date == date(2026, 5, 7)
    assert [(i.food_key, i.grams, i.source) for i in draft.items] == [
        ("egg", 100, "again"),
        ("apple", 150, "again"),
    ]
    assert draft.total == breakfast.total
    assert draft.prediction is None and draft.photo_file_id is None
    assert (await meals.get_meal(breakfast.id, ALICE)) == breakfast, "the meal it came from is untouched"


async def test_the_same_key_makes_one_draft_even_at_once(
    sessions: async_sessionmaker[AsyncSession], meals: MealStore, repeats: RepeatStore
) -> None:
    lunch = await saved(meals, [NewItem("rice", 200, "typed")], oslo(6, 12))

    taps = await asyncio.gather(
        *(repeats.again_from_meal(ALICE, lunch.id, eaten_at=NOW, key=500) for _ in range(4))
    )

    made = [tap for tap in taps if tap is not None]
    assert len(made) == 4 and len({tap.meal.id for tap in made}) == 1
    assert [tap.new for tap in made].count(True) == 1
    assert (await repeats.made_from(ALICE, 500)) == made[0].meal
    drafts = [m for m in await AccountStore(sessions, TABLE).all_meals(ALICE) if m.status == "draft"]
    assert len(drafts) == 1
    other = await repeats.again_from_meal(ALICE, lunch.id, eaten_at=NOW, key=501)
    assert other is not None and other.new, "another key is another draft"


async def test_only_the_persons_own_saved_meals_repeat(meals: MealStore, repeats: RepeatStore) -> None:
    bobs = await saved(meals, [NewItem("egg", 100, "typed")], NOW, user=BOB)
    draft = await meals.start_draft(ALICE, eaten_at=NOW, items=[NewItem("egg", 100, "typed")])

    assert await repeats.again_from_meal(ALICE, bobs.id, eaten_at=NOW, key=1) is None
    assert await repeats.again_from_meal(ALICE, draft.id, eaten_at=NOW, key=2) is None
    assert await repeats.again_from_meal(ALICE, 2**40, eaten_at=NOW, key=3) is None
    assert await repeats.again_from_favourite(ALICE, -1, eaten_at=NOW, key=4) is None
    assert await repeats.star(ALICE, bobs.id) is None
    assert await repeats.favourite_for(ALICE, bobs.id) is None


async def test_a_repeated_photo_meal_teaches_the_memory_nothing(
    sessions: async_sessionmaker[AsyncSession], meals: MealStore, repeats: RepeatStore
) -> None:
    vector = np.random.default_rng(5).normal(size=1280).astype(np.float32)
    photo = await meals.start_draft(
        ALICE,
        eaten_at=oslo(6, 8),
        photo_file_id="file-1",
        photo_unique_id="unique-1",
        recognition=replace(RECOGNITION, embedding=encode_embedding(vector / np.linalg.norm(vector))),
        items=[NewItem("pizza", 107, confidence=0.62), NewItem("salad", 150, confidence=0.41)],
    )
    photo_meal = await meals.save_meal(photo.id, ALICE)
    assert photo_meal is not None
    memory = MemoryStore(sessions)
    taught = await memory.count(ALICE)
    assert taught == 2, "the photo taught its two foods"

    made = await repeats.again_from_meal(ALICE, photo_meal.id, eaten_at=NOW, key=9)
    assert made is not None
    again = await meals.save_meal(made.meal.id, ALICE)

    assert again is not None and again.status == MealStatus.SAVED
    assert await memory.count(ALICE) == taught, "a repeat has no photo: it teaches nothing"
    assert [i.source for i in again.items] == ["again", "again"]


async def test_favourites_are_one_per_set_of_foods_and_outlive_their_meal(
    meals: MealStore, repeats: RepeatStore
) -> None:
    first = await saved(meals, [NewItem("egg", 100, "typed"), NewItem("apple", 150, "typed")], oslo(5, 8))
    bigger = await saved(
        meals, [NewItem("apple", 200, "typed"), NewItem("egg", 120, "typed")], oslo(6, 8), "Big one"
    )

    starred = await repeats.star(ALICE, first.id)
    again = await repeats.star(ALICE, bigger.id)

    assert starred is not None and again is not None and again.id == starred.id
    (kept,) = await repeats.favourites(ALICE)
    assert kept.caption == "Big one" and [(f.food_key, f.grams) for f in kept.foods] == [
        ("apple", 200),
        ("egg", 120),
    ], "starring the same foods again keeps the newer grams, in one favourite"
    assert (await repeats.favourite_for(ALICE, first.id)) == kept

    assert await meals.delete_meal(first.id, ALICE) and await meals.delete_meal(bigger.id, ALICE)
    made = await repeats.again_from_favourite(ALICE, kept.id, eaten_at=NOW, key=12)
    assert made is not None and made.new
    assert made.meal.caption == "Big one" and made.meal.total.kcal == pytest.approx(kept_kcal(kept))

    assert await repeats.unstar(ALICE, kept.id)
    assert not await repeats.unstar(ALICE, kept.id), "twice is once"
    assert await repeats.favourites(ALICE) == []


def kept_kcal(favourite: Favourite) -> float:
    return sum(food.macros.kcal for food in favourite.foods)


async def test_unstarring_a_meal_and_the_limit_and_forgetting(
    sessions: async_sessionmaker[AsyncSession], meals: MealStore, repeats: RepeatStore
) -> None:
    egg = await saved(meals, [NewItem("egg", 100, "typed")], oslo(6, 8))
    await repeats.star(ALICE, egg.id)
    assert await repeats.unstar_meal(ALICE, egg.id)
    assert await repeats.favourite_for(ALICE, egg.id) is None

    keys = ["egg", "apple", "rice", "pizza", "salad"]
    combos = [list(c) for size in (1, 2, 3) for c in itertools.combinations(keys, size)]
    for combo in combos[:MAX_FAVOURITES]:
        meal = await saved(meals, [NewItem(k, 100, "typed") for k in combo], oslo(6, 12))
        assert await repeats.star(ALICE, meal.id) is not None
    extra = await saved(meals, [NewItem(k, 100, "typed") for k in keys], oslo(6, 13))
    with pytest.raises(TooManyFavourites):
        await repeats.star(ALICE, extra.id)
    assert await repeats.star(ALICE, egg.id) is not None, "one already kept is only renewed"
    assert len(await repeats.favourites(ALICE)) == MAX_FAVOURITES

    counts = await AccountStore(sessions, TABLE).forget_user(ALICE)
    assert counts["favourites"] == MAX_FAVOURITES
    assert await repeats.favourites(ALICE) == []


async def test_recent_meals_are_the_saved_ones_newest_eaten_first(
    meals: MealStore, repeats: RepeatStore
) -> None:
    old = await saved(meals, [NewItem("egg", 100, "typed")], oslo(5, 8))
    new = await saved(meals, [NewItem("rice", 100, "typed")], oslo(6, 8))
    await meals.start_draft(ALICE, eaten_at=NOW, items=[NewItem("apple", 100, "typed")])
    await saved(meals, [NewItem("pizza", 100, "typed")], NOW, user=BOB)

    assert [m.id for m in await repeats.recent_meals(ALICE)] == [new.id, old.id]
