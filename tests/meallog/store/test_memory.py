"""The memory of corrections in the database: what saving a photo meal teaches, and who sees it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.memory.recall import Recall
from meallog.store.account import AccountStore
from meallog.store.meals import MealStore
from meallog.store.memory import MemoryStore
from meallog.store.people import PeopleStore
from meallog.store.views import NewItem
from model.recognition import RankedFood, Recognition, encode_embedding
from tests.meallog.store.conftest import ALICE, BOB, NOON, RECOGNITION, TABLE, item_of

RNG = np.random.default_rng(3)


def vector() -> np.ndarray:
    v = RNG.normal(size=1280).astype(np.float32)
    return v / np.linalg.norm(v)


async def saved_photo_meal(
    meals: MealStore, user_id: int, embedding: np.ndarray, change_pizza_to: str | None, unique: str
) -> int:
    """A photo meal of pizza and salad, pizza changed (or kept), saved; returns its id."""
    draft = await meals.start_draft(
        user_id,
        eaten_at=NOON,
        photo_file_id=f"file-{unique}",
        photo_unique_id=unique,
        recognition=replace(RECOGNITION, embedding=encode_embedding(embedding)),
        items=[NewItem("pizza", 107, confidence=0.62), NewItem("salad", 150, confidence=0.41)],
    )
    if change_pizza_to is not None:
        changed = await meals.change_item_food(draft.id, item_of(draft, "pizza"), user_id, change_pizza_to)
        assert changed is not None
    added = await meals.add_item(draft.id, user_id, "egg")
    assert added is not None
    saved = await meals.save_meal(draft.id, user_id)
    assert saved is not None
    return saved.id


def plain(embedding: np.ndarray) -> Recognition:
    """The model's answer for a photo: pizza, nearly sure."""
    return Recognition(
        foods=(RankedFood("pizza", "Pizza", 0.5, True), RankedFood("salad", "Green salad", 0.2, False)),
        no_food=False,
        bundle_id="test-bundle-1",
        embedding=encode_embedding(embedding),
    )


async def test_saving_a_photo_meal_teaches_each_food_and_saving_again_replaces_it(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    memory = MemoryStore(sessions)
    plate = vector()
    meal_id = await saved_photo_meal(meals, ALICE, plate, "apple", "u1")
    taught = {(e.food_key, e.source) for e in await memory.examples(ALICE, "test-bundle-1")}
    assert taught == {("apple", "corrected"), ("salad", "confirmed"), ("egg", "added")}
    assert await memory.count(ALICE) == 3

    copy = await meals.reopen_meal(meal_id, ALICE)
    assert copy is not None
    await meals.remove_item(copy.id, item_of(copy, "egg"), ALICE)
    assert await meals.save_meal(copy.id, ALICE) is not None
    taught = {(e.food_key, e.source) for e in await memory.examples(ALICE, "test-bundle-1")}
    assert taught == {("apple", "corrected"), ("salad", "confirmed")}, "the photo's lessons are replaced"

    assert await meals.delete_meal(copy.id, ALICE)
    assert await memory.count(ALICE) == 2, "deleting a meal keeps what it taught"


async def test_a_draft_teaches_nothing_and_neither_does_a_typed_meal(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    memory = MemoryStore(sessions)
    draft = await meals.start_draft(
        ALICE,
        eaten_at=NOON,
        photo_file_id="f",
        photo_unique_id="u",
        recognition=replace(RECOGNITION, embedding=encode_embedding(vector())),
        items=[NewItem("pizza", 107)],
    )
    await meals.change_item_food(draft.id, item_of(draft, "pizza"), ALICE, "rice")
    typed = await meals.start_draft(ALICE, eaten_at=NOON, items=[NewItem("rice", 100, source="typed")])
    await meals.save_meal(typed.id, ALICE)
    assert await memory.count(ALICE) == 0


async def test_a_correction_reaches_that_persons_next_photo_and_nobody_elses(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    recall = Recall(MemoryStore(sessions), TABLE.name_of)
    plate = vector()
    later = plate + 0.5 * vector()
    assert (await recall.rank(ALICE, plain(later))).foods[0].key == "pizza"
    await saved_photo_meal(meals, ALICE, plate, "apple", "u1")
    remembered = await recall.rank(ALICE, plain(later))
    assert {f.key for f in remembered.present} == {"apple", "salad", "egg"}, "her plate, without a restart"
    assert "pizza" not in {f.key for f in remembered.present}
    assert (await recall.rank(BOB, plain(later))).present[0].key == "pizza"


async def test_a_food_three_people_taught_alike_helps_everyone_unless_turned_off(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession], people: PeopleStore
) -> None:
    memory = MemoryStore(sessions)
    dish = vector()
    carol, dave = 3003, 4004
    for person in (carol, dave):
        await people.ensure_user(person, chat_id=person)
    for person in (ALICE, BOB):
        await memory.teach(person, "rice", encode_embedding(dish + 0.3 * vector()), "test-bundle-1")
    stranger = 5005
    later = plain(dish + 0.3 * vector())
    assert (await Recall(memory, TABLE.name_of).rank(stranger, later)).foods[0].key == "pizza"
    await memory.teach(carol, "rice", encode_embedding(dish + 0.3 * vector()), "test-bundle-1")
    assert (await Recall(memory, TABLE.name_of).rank(stranger, later)).foods[0].key == "rice"
    recall = Recall(memory, TABLE.name_of)
    mine, theirs = await recall.index(stranger, "test-bundle-1"), await recall.index(dave, "test-bundle-1")
    assert mine.shared is theirs.shared, "one shared index for everybody, not a copy per person"
    assert len(mine.shared) == 3 and len(mine.own) == 0
    carols = await recall.index(carol, "test-bundle-1")
    assert len(carols.own) == 1 and carols.shared.users is not None, "her shared row is skipped by user"
    off = Recall(memory, TABLE.name_of, shared=False)
    assert (await off.rank(stranger, later)).foods[0].key == "pizza"
    assert await memory.count(dave) == 0


async def test_forgetting_a_person_deletes_their_memory(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    memory = MemoryStore(sessions)
    await saved_photo_meal(meals, ALICE, vector(), "apple", "u1")
    await saved_photo_meal(meals, BOB, vector(), None, "u2")
    counts = await AccountStore(sessions, TABLE).forget_user(ALICE)
    assert counts["memory_examples"] == 3
    assert await memory.count(ALICE) == 0 and await memory.count(BOB) == 3


async def test_examples_of_another_bundle_wait_to_be_embedded_again(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    memory = MemoryStore(sessions)
    await saved_photo_meal(meals, ALICE, vector(), "apple", "u1")
    await memory.teach(ALICE, "rice", encode_embedding(vector()), "test-bundle-1", photo_unique_id="file:x")
    waiting = await memory.to_embed_again("bundle-2", limit=10)
    assert {e.food_key for e in waiting} == {"apple", "salad", "egg"}, "taught rows have no Telegram photo"
    for example in waiting:
        await memory.embedded_again(example, encode_embedding(vector()), "bundle-2")
    assert await memory.to_embed_again("bundle-2", limit=10) == []
    assert len(await memory.examples(ALICE, "bundle-2")) == 3
    assert len(await memory.examples(ALICE, "test-bundle-1")) == 4, "the old rows keep their bundle"
    assert await memory.count(ALICE) == 4, "a photo and food embedded twice counts once"


async def test_a_full_retrain_embeds_the_memory_without_bringing_back_what_was_deleted(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    memory = MemoryStore(sessions)
    await saved_photo_meal(meals, ALICE, vector(), "apple", "u1")
    bobs = await saved_photo_meal(meals, BOB, vector(), None, "u2")
    await memory.teach(BOB, "rice", encode_embedding(vector()), "test-bundle-1", photo_unique_id="t1")
    read_at_start = await memory.every_example("test-bundle-1")
    # While the retrain ran: Alice was forgotten, and Bob fixed his meal again (its examples replaced).
    await AccountStore(sessions, TABLE).forget_user(ALICE)
    reopened = await meals.reopen_meal(bobs, BOB)
    assert reopened is not None
    assert await meals.change_item_food(reopened.id, item_of(reopened, "pizza"), BOB, "apple") is not None
    assert await meals.save_meal(reopened.id, BOB) is not None

    embedded = [(example, encode_embedding(vector())) for example in read_at_start]
    assert await memory.add_embedded(embedded, "bundle-2") == 1, "only Bob's taught rice is still there"
    assert [(e.user_id, e.food_key) for e in await memory.every_example("bundle-2")] == [(BOB, "rice")]
    assert await memory.add_embedded(embedded, "bundle-2") == 0, "a second pass adds nothing"
    assert await memory.add_embedded([], "bundle-2") == 0


async def test_the_store_stamps_what_it_writes_with_the_clock_it_is_given(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    moment = datetime(2031, 1, 2, 3, 4, tzinfo=UTC)
    store = MemoryStore(sessions, lambda: moment)
    example = await store.teach(ALICE, "rice", encode_embedding(vector()), "b")
    assert example.created_at == moment


async def test_fixing_the_newest_meal_again_reaches_the_cached_memory(
    meals: MealStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The cache's stamp is (rows, newest id): replacing the newest rows must not reuse their ids."""
    recall = Recall(MemoryStore(sessions), TABLE.name_of)
    plate = vector()
    meal_id = await saved_photo_meal(meals, ALICE, plate, "apple", "u1")
    later = plate + 0.3 * vector()
    assert "apple" in {f.key for f in (await recall.rank(ALICE, plain(later))).present}
    copy = await meals.reopen_meal(meal_id, ALICE)
    assert copy is not None
    await meals.change_item_food(copy.id, item_of(copy, "apple"), ALICE, "rice")
    assert await meals.save_meal(copy.id, ALICE) is not None
    present = {f.key for f in (await recall.rank(ALICE, plain(later))).present}
    assert "rice" in present and "apple" not in present
