"""Meals: drafts and their items, saving and deleting, reading them back, reopening saved ones.

Every change runs in one transaction that first checks the meal belongs to the person and is still a
draft, and locks its row (`_draft`), so two button presses on one meal apply one after the other.
Each change bumps the draft's `version`; a change asked for at an older version (a double tap, a press
replayed by Telegram) raises `StaleCard` and changes nothing. Edits keep the photo's corrections in line
as they go (`meallog.store.corrections`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from meallog.db.models import Meal, MealItem, MealStatus, Prediction, User
from meallog.local_time import local_date_of
from meallog.nutrition import Food
from meallog.portions import MAX_GRAMS, macros_for
from meallog.store.base import TableStore, meals_query, valid_id
from meallog.store.corrections import after_replacing, before_replacing, track_correction
from meallog.store.items import (
    MAX_ITEMS,
    MIN_SCALED_GRAMS,
    check_grams,
    check_source,
    model_confidence,
    regram,
    set_macros,
)
from meallog.store.memory import learn_from_meal
from meallog.store.views import MealView, NewItem
from model.recognition import Recognition


class StaleCard(Exception):
    """The change was asked for on an older version of the draft than the one stored: not applied."""


class TooManyItems(ValueError):
    """A meal holds at most `MAX_ITEMS` foods."""


class MealStore(TableStore):
    """A person's meals, from the first draft of a photo to the saved meal and its later changes."""

    # -- drafts --------------------------------------------------------------------------------------

    async def start_draft(
        self,
        user_id: int,
        *,
        eaten_at: datetime,
        photo_file_id: str | None = None,
        photo_unique_id: str | None = None,
        caption: str | None = None,
        recognition: Recognition | None = None,
        items: Sequence[NewItem] = (),
        source_message_id: int | None = None,
    ) -> MealView:
        """A new draft meal, dated on the person's local day at `eaten_at` (an aware datetime).

        The prediction is stored when `recognition` is given and is not a failed read (`error` set).
        Items with source "model" remember their food as the model's; past `MAX_ITEMS` they are left
        out. With `source_message_id`, a meal already made from that message of the person is returned
        as it is instead (a message handled twice makes one meal). Raises LookupError for an unknown
        person and ValueError for a bad item (unknown food, grams out of range, bad source).
        """
        if eaten_at.tzinfo is None or eaten_at.utcoffset() is None:
            raise ValueError("eaten_at must be timezone-aware")
        rows = self._rows(items)
        prediction = None
        if recognition is not None and recognition.error is None:
            prediction = Prediction(
                bundle_id=recognition.bundle_id,
                labels=[[label, float(score)] for label, score in recognition.labels],
                foods=[[food.key, float(food.confidence)] for food in recognition.foods],
                no_food=recognition.no_food,
                embedding=recognition.embedding or None,
            )
        async with self._write() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise LookupError(f"no user {user_id}")
            if source_message_id is not None:
                made = await self._from_message(session, user_id, source_message_id)
                if made is not None:
                    return self._meal_view(made)
            now = self._now()
            meal = Meal(
                user_id=user_id,
                status=MealStatus.DRAFT,
                source_message_id=source_message_id,
                eaten_at=eaten_at.astimezone(UTC),
                local_date=local_date_of(eaten_at, user.timezone),
                photo_file_id=photo_file_id,
                photo_unique_id=photo_unique_id,
                caption=caption,
                created_at=now,
                updated_at=now,
                items=rows,
                prediction=prediction,
            )
            session.add(meal)
            await session.flush()
            return self._meal_view(meal)

    async def open_draft(self, user_id: int, since: datetime) -> MealView | None:
        """The person's newest draft changed at or after `since` (not a reopened saved meal), if any:
        where a food typed soon after belongs."""
        async with self._read() as session:
            meal = await session.scalar(
                meals_query()
                .where(
                    Meal.user_id == user_id,
                    Meal.status == MealStatus.DRAFT,
                    Meal.replaces_meal_id.is_(None),
                    Meal.updated_at >= since,
                )
                .order_by(Meal.updated_at.desc(), Meal.id.desc())
                .limit(1)
            )
            return self._meal_view(meal) if meal is not None else None

    async def drafts_on(self, user_id: int, local_date: date) -> list[MealView]:
        """The person's unsaved meals of a local day (not reopened saved ones), in the order eaten."""
        async with self._read() as session:
            meals = await session.scalars(
                meals_query()
                .where(
                    Meal.user_id == user_id,
                    Meal.local_date == local_date,
                    Meal.status == MealStatus.DRAFT,
                    Meal.replaces_meal_id.is_(None),
                )
                .order_by(Meal.eaten_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def from_message(self, user_id: int, message_id: int) -> MealView | None:
        """The meal made from this message of the person, or that it added a food to (draft or saved)."""
        async with self._read() as session:
            meal = await self._from_message(session, user_id, message_id)
            return self._meal_view(meal) if meal is not None else None

    async def replace_items(
        self, meal_id: int, user_id: int, items: Sequence[NewItem], caption: str | None
    ) -> MealView | None:
        """Make the draft's foods `items` and its name `caption` (the person edited the message it came
        from). Items the person already changed on the card give way to the edited message."""
        rows = self._rows(items)
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            meal.items.clear()
            await session.flush()
            meal.items.extend(rows)
            meal.caption = caption
            return await self._touched(session, meal)

    async def replace_message_items(
        self, meal_id: int, user_id: int, message_id: int, items: Sequence[NewItem]
    ) -> MealView | None:
        """The foods a message added to an open draft become `items` (the person edited that message);
        the draft's other foods stay. Raises `TooManyItems` past `MAX_ITEMS`."""
        rows = self._rows(items)
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            kept = [item for item in meal.items if item.source_message_id != message_id]
            if len(kept) + len(rows) > MAX_ITEMS:
                raise TooManyItems(f"a meal holds at most {MAX_ITEMS} foods")
            meal.items[:] = kept
            await session.flush()
            start = max((item.position for item in kept), default=-1) + 1
            for offset, row in enumerate(rows):
                row.position = start + offset
                row.source_message_id = message_id
            meal.items.extend(rows)
            return await self._touched(session, meal)

    async def split_message_items(
        self, meal_id: int, user_id: int, message_id: int
    ) -> tuple[MealView, MealView] | None:
        """Move the foods a message added to an open draft into a draft of their own ("keep it separate"):
        the draft without them, and the new one. None when the draft is gone or saved, or the message's
        foods are no longer on it (split already), or they are all it holds (nothing to split).

        The new draft is dated now, on the person's local day, and counts as made from that message, so
        a retried message finds it rather than adding its foods again.
        """
        if not valid_id(meal_id) or not valid_id(message_id):
            return None
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            moved = [item for item in meal.items if item.source_message_id == message_id]
            if not moved or len(moved) == len(meal.items):
                return None
            user = await session.get(User, user_id)
            now = self._now()
            tz = user.timezone if user is not None else "UTC"
            split = Meal(
                user_id=user_id,
                status=MealStatus.DRAFT,
                source_message_id=message_id,
                eaten_at=now,
                local_date=local_date_of(now, tz),
                created_at=now,
                updated_at=now,
                prediction=None,
                items=[
                    MealItem(
                        position=position,
                        food_key=item.food_key,
                        grams=item.grams,
                        kcal=item.kcal,
                        protein_g=item.protein_g,
                        fat_g=item.fat_g,
                        carbs_g=item.carbs_g,
                        source=item.source,
                        source_message_id=message_id,
                    )
                    for position, item in enumerate(moved)
                ],
            )
            for item in moved:  # a food typed onto a photo's meal was an "added" correction: no more
                await track_correction(session, meal, item, removed=True, now=now)
                meal.items.remove(item)
            session.add(split)
            await session.flush()
            return await self._touched(session, meal), self._meal_view(split)

    async def set_caption(self, meal_id: int, user_id: int, caption: str | None) -> MealView | None:
        """Rename the draft (the person edited its photo's caption)."""
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            meal.caption = caption
            return await self._touched(session, meal)

    async def get_meal(self, meal_id: int, user_id: int) -> MealView | None:
        """The meal, draft or saved; None when it does not exist or belongs to someone else."""
        if not valid_id(meal_id):
            return None
        async with self._read() as session:
            meal = await session.scalar(meals_query().where(Meal.id == meal_id, Meal.user_id == user_id))
            return self._meal_view(meal) if meal is not None else None

    async def set_card(self, meal_id: int, chat_id: int, message_id: int) -> None:
        """Remember the message that shows the meal's card, so it can be edited in place."""
        if not valid_id(meal_id):
            return
        async with self._write() as session:
            await session.execute(
                update(Meal)
                .where(Meal.id == meal_id)
                .values(card_chat_id=chat_id, card_message_id=message_id, updated_at=self._now())
            )

    async def change_item_food(
        self, meal_id: int, item_id: int, user_id: int, food_key: str, *, version: int | None = None
    ) -> MealView | None:
        """Make the item another food, at that food's default portion (source "changed")."""
        food = self._food(food_key)
        grams = check_grams(food.portion_g)
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id, version)
            if found is None:
                return None
            meal, item = found
            item.food_key = food_key
            item.grams = grams
            set_macros(item, macros_for(food, grams))
            item.source = "changed"
            item.confidence = model_confidence(meal, food_key)
            await track_correction(session, meal, item, removed=False, now=self._now())
            return await self._touched(session, meal)

    async def remove_item(
        self, meal_id: int, item_id: int, user_id: int, *, version: int | None = None
    ) -> MealView | None:
        """Take the item out of the draft."""
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id, version)
            if found is None:
                return None
            meal, item = found
            await track_correction(session, meal, item, removed=True, now=self._now())
            meal.items.remove(item)
            return await self._touched(session, meal)

    async def set_portions(
        self, meal_id: int, item_id: int, user_id: int, portions: float, *, version: int | None = None
    ) -> MealView | None:
        """Make the item `portions` (> 0) of its food's default portion: one decimal, `MIN_SCALED_GRAMS`
        to `MAX_GRAMS`.

        Counted from the default portion, not from the grams now, so the portion buttons never compound
        (½ then 1½ is 1½ portions, not ¾) and 1 is always the way back. The result is clamped rather than
        refused, so "2×" on a large portion stops at the limit. Raises ValueError for a count that is not a
        positive finite number.
        """
        portions = float(portions)
        if not (math.isfinite(portions) and portions > 0):
            raise ValueError(f"portions must be a positive number, not {portions!r}")
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id, version)
            if found is None:
                return None
            meal, item = found
            grams = round(self._food(item.food_key).portion_g * portions, 1)
            grams = min(MAX_GRAMS, max(MIN_SCALED_GRAMS, grams))
            regram(item, grams, self._table)
            return await self._touched(session, meal)

    async def set_item_grams(
        self, meal_id: int, item_id: int, user_id: int, grams: float, *, version: int | None = None
    ) -> MealView | None:
        """Set the item's grams (more than 0, at most `MAX_GRAMS`; ValueError otherwise)."""
        grams = check_grams(grams)
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id, version)
            if found is None:
                return None
            meal, item = found
            regram(item, grams, self._table)
            return await self._touched(session, meal)

    async def add_items(
        self, meal_id: int, user_id: int, items: Sequence[NewItem], *, source_message_id: int
    ) -> MealView | None:
        """Add the foods one message named to the end of the draft, all or none, in one transaction: a
        message of several foods retried after a failure finds all of them there or none. Raises
        `TooManyItems` past `MAX_ITEMS`; None when the draft is gone or saved."""
        rows = self._rows(items)
        if not valid_id(meal_id):
            return None
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            if len(meal.items) + len(rows) > MAX_ITEMS:
                raise TooManyItems(f"a meal holds at most {MAX_ITEMS} foods")
            start = max((i.position for i in meal.items), default=-1) + 1
            for offset, row in enumerate(rows):
                row.position = start + offset
                row.source_message_id = source_message_id
                meal.items.append(row)
            await session.flush()
            for row in rows:
                await track_correction(session, meal, row, removed=False, now=self._now())
            return await self._touched(session, meal)

    async def add_item(
        self,
        meal_id: int,
        user_id: int,
        food_key: str,
        grams: float | None = None,
        source: str = "typed",
        *,
        version: int | None = None,
        source_message_id: int | None = None,
    ) -> MealView | None:
        """Add a food at the end of the draft, at `grams` or the food's default portion.

        `source_message_id`: the person's message that added it (a food typed while the meal was open),
        which `from_message` then finds. Raises `TooManyItems` when the draft already holds `MAX_ITEMS`
        foods.
        """
        food = self._food(food_key)
        grams = check_grams(food.portion_g if grams is None else grams)
        source = check_source(source)
        if not valid_id(meal_id):
            return None
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id, version)
            if meal is None:
                return None
            if len(meal.items) >= MAX_ITEMS:
                raise TooManyItems(f"a meal holds at most {MAX_ITEMS} foods")
            position = max((i.position for i in meal.items), default=-1) + 1
            item = MealItem(
                position=position,
                food_key=food_key,
                grams=grams,
                source=source,
                confidence=model_confidence(meal, food_key) if source == "model" else None,
                model_key=None,
                source_message_id=source_message_id,
            )
            set_macros(item, macros_for(food, grams))
            meal.items.append(item)
            await session.flush()
            await track_correction(session, meal, item, removed=False, now=self._now())
            return await self._touched(session, meal)

    async def save_meal(self, meal_id: int, user_id: int, *, version: int | None = None) -> MealView | None:
        """Save the draft with the numbers it shows; None if it is not a draft of this person.

        A photo meal teaches the memory of corrections as it is saved (`meallog.store.memory`).
        """
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id, version)
            if meal is None:
                return None
            now = self._now()
            meal.status = MealStatus.SAVED
            meal.saved_at = now
            if meal.replaces_meal_id is not None:
                await self._replace_original(session, meal)
            await learn_from_meal(session, meal, now)
            return await self._touched(session, meal)

    async def discard_draft(self, meal_id: int, user_id: int) -> bool:
        """Delete a draft of this person (its corrections stay); False if there was none."""
        return await self._delete(meal_id, user_id, MealStatus.DRAFT)

    async def delete_meal(self, meal_id: int, user_id: int) -> bool:
        """Delete a saved meal of this person (its corrections stay); False if there was none."""
        return await self._delete(meal_id, user_id, MealStatus.SAVED)

    # -- reading -------------------------------------------------------------------------------------

    async def meals_on(self, user_id: int, local_date: date) -> list[MealView]:
        """The person's saved meals of a local day, in the order they were eaten."""
        async with self._read() as session:
            meals = await session.scalars(
                meals_query()
                .where(
                    Meal.user_id == user_id, Meal.local_date == local_date, Meal.status == MealStatus.SAVED
                )
                .order_by(Meal.eaten_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def last_saved(self, user_id: int) -> MealView | None:
        """The meal the person saved most recently."""
        async with self._read() as session:
            meal = await session.scalar(
                meals_query()
                .where(Meal.user_id == user_id, Meal.status == MealStatus.SAVED)
                .order_by(Meal.saved_at.desc(), Meal.id.desc())
                .limit(1)
            )
            return self._meal_view(meal) if meal is not None else None

    # -- reopening saved meals ----------------------------------------------------------------------

    async def reopen_meal(self, meal_id: int, user_id: int) -> MealView | None:
        """A draft copy of a saved meal to change and save again (the copy already open, if any).

        Saving the copy replaces the original (`save_meal`); discarding it leaves the original as it
        was. None when the meal is not a saved meal of this person.
        """
        if not valid_id(meal_id):
            return None
        async with self._write() as session:
            original = await session.scalar(
                meals_query()
                .where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == MealStatus.SAVED)
                .with_for_update(of=Meal)
            )
            if original is None:
                return None
            open_copy = await session.scalar(
                meals_query()
                .where(Meal.replaces_meal_id == meal_id, Meal.status == MealStatus.DRAFT)
                .limit(1)
            )
            if open_copy is not None:
                return self._meal_view(open_copy)
            now = self._now()
            prediction = None
            if original.prediction is not None:
                prediction = Prediction(
                    bundle_id=original.prediction.bundle_id,
                    labels=copy.deepcopy(original.prediction.labels),
                    foods=copy.deepcopy(original.prediction.foods),
                    no_food=original.prediction.no_food,
                    created_at=original.prediction.created_at,
                    embedding=original.prediction.embedding,
                )
            draft = Meal(
                user_id=user_id,
                status=MealStatus.DRAFT,
                eaten_at=original.eaten_at,
                local_date=original.local_date,
                photo_file_id=original.photo_file_id,
                photo_unique_id=original.photo_unique_id,
                caption=original.caption,
                created_at=now,
                updated_at=now,
                replaces_meal_id=original.id,
                prediction=prediction,
                items=[
                    MealItem(
                        position=item.position,
                        food_key=item.food_key,
                        grams=item.grams,
                        kcal=item.kcal,
                        protein_g=item.protein_g,
                        fat_g=item.fat_g,
                        carbs_g=item.carbs_g,
                        source=item.source,
                        confidence=item.confidence,
                        model_key=item.model_key,
                        source_message_id=item.source_message_id,
                    )
                    for item in original.items
                ],
            )
            session.add(draft)
            await session.flush()
            return self._meal_view(draft)

    async def move_meal(
        self, meal_id: int, user_id: int, eaten_at: datetime, *, version: int | None = None
    ) -> MealView | None:
        """Set when a draft was eaten (an aware datetime); its local day follows, in the person's zone."""
        if eaten_at.tzinfo is None or eaten_at.utcoffset() is None:
            raise ValueError("eaten_at must be timezone-aware")
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id, version)
            if meal is None:
                return None
            user = await session.get(User, user_id)
            assert user is not None
            meal.eaten_at = eaten_at.astimezone(UTC)
            meal.local_date = local_date_of(eaten_at, user.timezone)
            return await self._touched(session, meal)

    async def _replace_original(self, session: AsyncSession, draft: Meal) -> None:
        """Saving a reopened copy: the original goes, its corrections follow the copy's final state."""
        original_id = draft.replaces_meal_id
        draft.replaces_meal_id = None
        await session.flush()
        original = await session.scalar(
            meals_query()
            .where(Meal.id == original_id, Meal.user_id == draft.user_id)
            .with_for_update(of=Meal)
        )
        if original is None:
            return
        removed = await before_replacing(session, original, draft)
        await session.delete(original)
        await session.flush()
        await after_replacing(session, draft, removed, self._now())

    # -- helpers -------------------------------------------------------------------------------------

    def _rows(self, items: Sequence[NewItem]) -> list[MealItem]:
        """New item rows, at most `MAX_ITEMS`; items with source "model" remember the model's food."""
        rows = []
        for position, new in enumerate(items[:MAX_ITEMS]):
            grams = check_grams(new.grams)
            row = MealItem(
                position=position,
                food_key=new.food_key,
                grams=grams,
                source=check_source(new.source),
                confidence=new.confidence,
                model_key=new.food_key if new.source == "model" else None,
                source_message_id=new.message_id,
            )
            set_macros(row, macros_for(self._food(new.food_key), grams))
            rows.append(row)
        return rows

    async def _from_message(self, session: AsyncSession, user_id: int, message_id: int) -> Meal | None:
        """The meal the message made, or the one it added a food to."""
        added_to = select(MealItem.meal_id).where(MealItem.source_message_id == message_id)
        return await session.scalar(
            meals_query()
            .where(
                Meal.user_id == user_id,
                or_(Meal.source_message_id == message_id, Meal.id.in_(added_to)),
            )
            .order_by(Meal.id)
            .limit(1)
        )

    def _food(self, food_key: str) -> Food:
        food = self._table.get(food_key)
        if food is None:
            raise ValueError(f"the nutrition table has no food {food_key!r}")
        return food

    async def _draft(
        self, session: AsyncSession, meal_id: int, user_id: int, version: int | None = None
    ) -> Meal | None:
        """This person's draft with its items and prediction, its row locked for the transaction.

        With `version`, raises `StaleCard` when the draft has changed since that version.
        """
        if not valid_id(meal_id):
            return None
        meal = await session.scalar(
            meals_query()
            .where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == MealStatus.DRAFT)
            .with_for_update(of=Meal)
        )
        if meal is not None and version is not None and meal.version != version:
            raise StaleCard(f"meal {meal_id} is at version {meal.version}, not {version}")
        return meal

    async def _draft_item(
        self, session: AsyncSession, meal_id: int, item_id: int, user_id: int, version: int | None
    ) -> tuple[Meal, MealItem] | None:
        if not valid_id(item_id):
            return None
        meal = await self._draft(session, meal_id, user_id, version)
        if meal is None:
            return None
        item = next((i for i in meal.items if i.id == item_id), None)
        return (meal, item) if item is not None else None

    async def _touched(self, session: AsyncSession, meal: Meal) -> MealView:
        meal.updated_at = self._now()
        meal.version = (meal.version or 1) + 1
        await session.flush()
        return self._meal_view(meal)

    async def _delete(self, meal_id: int, user_id: int, status: MealStatus) -> bool:
        if not valid_id(meal_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                delete(Meal).where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == status)
            )
            return bool(cast(CursorResult[Any], result).rowcount)
