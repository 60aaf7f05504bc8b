"""Corrections, for training: what people told the model about their photos, kept as the meal changes.

For a meal with a photo and a prediction, every item that differs from what the model said has one
correction row holding its latest state. Changing a model food (even twice) gives "changed" with the
model's food and the final one; changing it back to the model's food drops the row; removing it gives
"removed"; a food the person adds gives "added" (and adding then removing it gives nothing). Each row
copies the photo and the model's ranked answer, so it stays useful after the meal is deleted.

A reopened copy of a saved meal tracks nothing while it is a draft; saving it settles its corrections
against the original's (`before_replacing`, then `after_replacing`).

`meallog.store.meals` calls the functions here inside its own transactions; `CorrectionStore` reads the
rows back for `training.corrections`.
"""

from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meallog.db.models import Correction, Meal, MealItem
from meallog.store.base import Store
from meallog.store.views import CorrectionView, correction_view


async def track_correction(
    session: AsyncSession, meal: Meal, item: MealItem, *, removed: bool, now: datetime
) -> None:
    """Bring the item's correction row in line with the item (see the module docstring)."""
    if meal.prediction is None or meal.photo_file_id is None:
        return
    if meal.replaces_meal_id is not None:
        return  # a reopened copy: its corrections are settled when it is saved (after_replacing)
    existing = await session.scalar(select(Correction).where(Correction.item_id == item.id))
    final_key = None if removed else item.food_key
    kind: str | None
    if item.model_key is not None:
        kind = "removed" if removed else ("changed" if final_key != item.model_key else None)
    else:
        kind = None if removed else "added"
    if kind is None:
        if existing is not None:
            await session.delete(existing)
            await session.flush()
        return
    if existing is None:
        existing = Correction(
            user_id=meal.user_id,
            meal_id=meal.id,
            item_id=item.id,
            photo_file_id=meal.photo_file_id,
            photo_unique_id=meal.photo_unique_id,
            bundle_id=meal.prediction.bundle_id,
            model_foods=copy.deepcopy(meal.prediction.foods),
            model_key=item.model_key,
            created_at=now,
        )
        session.add(existing)
    existing.final_key = final_key
    existing.kind = kind
    await session.flush()  # before the item may be deleted in the same transaction


async def before_replacing(session: AsyncSession, original: Meal, draft: Meal) -> list[MealItem]:
    """Saving a reopened copy, before the original goes: returns the original's model foods the copy lacks.

    Corrections of removed items (no item left) now belong to the copy; those of the original's items
    are dropped, to be made again by `after_replacing` from the copy's items, which carry the same
    model foods.
    """
    await session.execute(
        update(Correction)
        .where(Correction.meal_id == original.id, Correction.item_id.is_(None))
        .values(meal_id=draft.id)
    )
    original_items = {item.position: item for item in original.items}
    await session.execute(
        delete(Correction).where(Correction.item_id.in_([item.id for item in original.items]))
    )
    kept = {item.position for item in draft.items}
    return [item for pos, item in original_items.items() if pos not in kept and item.model_key]


async def after_replacing(session: AsyncSession, draft: Meal, removed: list[MealItem], now: datetime) -> None:
    """Saving a reopened copy, once the original is gone: its corrections follow the copy's final state."""
    for item in draft.items:
        await track_correction(session, draft, item, removed=False, now=now)
    if draft.prediction is not None and draft.photo_file_id is not None:
        for item in removed:
            session.add(
                Correction(
                    user_id=draft.user_id,
                    meal_id=draft.id,
                    item_id=None,
                    photo_file_id=draft.photo_file_id,
                    photo_unique_id=draft.photo_unique_id,
                    bundle_id=draft.prediction.bundle_id,
                    model_foods=copy.deepcopy(draft.prediction.foods),
                    model_key=item.model_key,
                    final_key=None,
                    kind="removed",
                    created_at=now,
                )
            )
        await session.flush()


class CorrectionStore(Store):
    """Reads the corrections back, for the training export."""

    async def corrections(self, user_id: int | None = None) -> list[CorrectionView]:
        """Corrections of one person, or of everyone, oldest first (the training export reads these)."""
        stmt = select(Correction).order_by(Correction.id)
        if user_id is not None:
            stmt = stmt.where(Correction.user_id == user_id)
        async with self._read() as session:
            return [correction_view(row) for row in await session.scalars(stmt)]
