"""The meal log: people, their meals and the corrections they make to the model.

This is the only module that queries the tables. The Telegram layer calls `MealLog` and gets frozen
views back, never ORM objects, so nothing outside can lazy-load or write by accident. All state lives
in the database (a person's pending prompt included), so several bot processes can serve one person.

Every mutating method runs in one transaction that first checks the meal belongs to the person and is
still a draft (on PostgreSQL it also locks the meal's row, so two button presses on one meal apply one
after the other). Ids come from callback data anyone can forge, so a stale, foreign or nonsensical id
gives None or False, never an exception. Bad values (grams out of range, a food the table lacks) are
the caller's to check first and raise ValueError here.

Macros are computed from the nutrition table whenever an item changes and stored with it; saving a
meal freezes the numbers the person saw, so a later change to the table does not rewrite history.
Names and portion names are read from the table when a view is made.

Corrections, for training: for a meal with a photo and a prediction, every item that differs from
what the model said has one correction row holding its latest state. Changing a model food (even
twice) gives "changed" with the model's food and the final one; changing it back to the model's food
drops the row; removing it gives "removed"; a food the person adds gives "added" (and adding then
removing it gives nothing). Each row copies the photo and the model's ranked answer, so it stays
useful after the meal is deleted.
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select
from sqlalchemy.types import Date

from bot.db.engine import WRITE
from bot.db.models import ITEM_SOURCES, Base, Correction, Meal, MealItem, Prediction, User
from bot.local_time import local_date_of
from bot.nutrition import Food, NutritionTable
from bot.portions import Macros, macros_for, total
from bot.summary_times import DEFAULT_SUMMARY_MINUTE, first_due, moved_due
from model.recognition import Recognition

#: The largest portion one item may have, in grams.
MAX_GRAMS = 5000.0
#: The smallest portion scaling can reach, in grams (grams are kept to one decimal when scaled).
MIN_SCALED_GRAMS = 0.1
#: Ids are 32-bit integers in the database; anything outside cannot name a row.
_MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class NewItem:
    """A food to put into a new draft: its table key, grams, where it came from and the model's score."""

    food_key: str
    grams: float
    source: str = "model"
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class UserView:
    """A person as the bot sees them. The dicts are copies; change them through `MealLog`."""

    id: int
    chat_id: int
    timezone: str
    settings: dict[str, Any]
    goals: dict[str, Any]
    pending: dict[str, Any] | None
    blocked_at: datetime | None
    #: The daily summary: wall time in minutes after local midnight, on/off, the last local day summed up.
    summary_minute: int = DEFAULT_SUMMARY_MINUTE
    summaries_on: bool = True
    summary_last_date: date | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    """One food of a meal: `name`/`portion_name` from the table now, `macros` as stored with the item."""

    id: int
    position: int
    food_key: str
    name: str
    grams: float
    portion_name: str
    macros: Macros
    source: str
    confidence: float | None


@dataclass(frozen=True, slots=True)
class PredictionView:
    """What the model said about the meal's photo: ranked (food key, confidence) and raw (label, score)."""

    bundle_id: str
    foods: tuple[tuple[str, float], ...]
    labels: tuple[tuple[str, float], ...]
    no_food: bool


@dataclass(frozen=True, slots=True)
class MealView:
    """A meal with its items in order; `status` is "draft" or "saved"; times are aware UTC."""

    id: int
    user_id: int
    status: str
    eaten_at: datetime
    local_date: date
    caption: str | None
    photo_file_id: str | None
    photo_unique_id: str | None
    card_chat_id: int | None
    card_message_id: int | None
    items: tuple[ItemView, ...]
    prediction: PredictionView | None

    @property
    def total(self) -> Macros:
        """The meal's macros: the sum of its items."""
        return total(item.macros for item in self.items)


@dataclass(frozen=True, slots=True)
class CorrectionView:
    """A person's answer to the model for one food of a photo (see the module docstring).

    `kind` is "changed" (model_key → final_key), "removed" (final_key None) or "added" (model_key None).
    `meal_id` is None once the meal is deleted.
    """

    id: int
    user_id: int
    meal_id: int | None
    photo_file_id: str
    photo_unique_id: str | None
    bundle_id: str
    model_foods: tuple[tuple[str, float], ...]
    model_key: str | None
    final_key: str | None
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SummaryClaim:
    """A person whose daily summary this process claimed: send it, then report a `SummaryOutcome`."""

    user_id: int
    chat_id: int
    timezone: str
    summary_minute: int
    due_at: datetime
    claimed_at: datetime
    last_date: date | None
    settings: dict[str, Any]
    goals: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """What became of a claimed summary.

    `next_due_at` None releases the claim and keeps the summary due (a later tick tries again);
    otherwise the summary is done and the next one falls due then. `day` records the local day as
    summed up (sent, or deliberately silent); `blocked` marks the person as having blocked the bot.
    """

    user_id: int
    claimed_at: datetime
    next_due_at: datetime | None
    day: date | None = None
    blocked: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _valid_id(value: int) -> bool:
    return isinstance(value, int) and 0 < value <= _MAX_ID


def _check_grams(grams: float) -> float:
    grams = float(grams)
    if not (math.isfinite(grams) and 0 < grams <= MAX_GRAMS):
        raise ValueError(f"grams must be more than 0 and at most {MAX_GRAMS:g}, not {grams!r}")
    return grams


def _check_source(source: str) -> str:
    if source not in ITEM_SOURCES:
        raise ValueError(f"item source must be one of {ITEM_SOURCES}, not {source!r}")
    return source


def _pairs(rows: Iterable[Sequence[Any]]) -> tuple[tuple[str, float], ...]:
    return tuple((str(key), float(score)) for key, score in rows)


def _set_macros(item: MealItem, macros: Macros) -> None:
    item.kcal = macros.kcal
    item.protein_g = macros.protein_g
    item.fat_g = macros.fat_g
    item.carbs_g = macros.carbs_g


def _stored_macros(item: MealItem) -> Macros:
    return Macros(kcal=item.kcal, protein_g=item.protein_g, fat_g=item.fat_g, carbs_g=item.carbs_g)


def _model_confidence(meal: Meal, food_key: str) -> float | None:
    """The model's confidence in `food_key` for this meal's photo, if it ranked that food."""
    if meal.prediction is None:
        return None
    for key, confidence in meal.prediction.foods:
        if key == food_key:
            return float(confidence)
    return None


def _user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        chat_id=user.chat_id,
        timezone=user.timezone,
        settings=copy.deepcopy(user.settings),
        goals=copy.deepcopy(user.goals),
        pending=copy.deepcopy(user.pending),
        blocked_at=user.blocked_at,
        summary_minute=user.summary_minute,
        summaries_on=user.summaries_on,
        summary_last_date=user.summary_last_date,
    )


def _correction_view(row: Correction) -> CorrectionView:
    return CorrectionView(
        id=row.id,
        user_id=row.user_id,
        meal_id=row.meal_id,
        photo_file_id=row.photo_file_id,
        photo_unique_id=row.photo_unique_id,
        bundle_id=row.bundle_id,
        model_foods=_pairs(row.model_foods),
        model_key=row.model_key,
        final_key=row.final_key,
        kind=row.kind,
        created_at=row.created_at,
    )


def _meals_query() -> Select[Meal]:
    return select(Meal).options(selectinload(Meal.items), selectinload(Meal.prediction))


class MealLog:
    """People, meals, items and corrections, over an async sessionmaker and the nutrition table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], table: NutritionTable) -> None:
        self._sessions = sessions
        self._table = table

    # -- sessions ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that will write: committed on success, rolled back on an exception."""
        async with self._sessions() as session, session.begin():
            await session.connection(execution_options=WRITE)
            yield session

    # -- people --------------------------------------------------------------------------------------

    async def ensure_user(self, user_id: int, chat_id: int) -> UserView:
        """Create the person on first contact, or update their chat; either way they are not blocked.

        Called for every update, so it only writes when something changes; two processes creating the
        same person at once both succeed (an upsert).
        """
        async with self._read() as session:
            user = await session.get(User, user_id)
            if user is not None and user.chat_id == chat_id and user.blocked_at is None:
                return _user_view(user)
        now = _now()
        async with self._write() as session:
            insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            stmt = insert(User).values(
                id=user_id,
                chat_id=chat_id,
                timezone="UTC",
                settings={},
                goals={},
                created_at=now,
                updated_at=now,
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[User.id], set_={"chat_id": chat_id, "blocked_at": None, "updated_at": now}
                )
            )
            user = await session.get(User, user_id, populate_existing=True)
            assert user is not None
            return _user_view(user)

    async def get_user(self, user_id: int) -> UserView | None:
        async with self._read() as session:
            user = await session.get(User, user_id)
            return _user_view(user) if user is not None else None

    async def set_timezone(self, user_id: int, tz: str) -> UserView:
        """Set the person's IANA zone; meals keep the local date they were logged with.

        Raises ValueError for a name zoneinfo does not know and LookupError for an unknown person.
        """
        try:
            ZoneInfo(tz)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {tz!r}") from exc
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise LookupError(f"no user {user_id}")
            user.timezone = tz
            user.updated_at = _now()
            # Planned again in the new zone by the next summary tick (bot.schedule).
            user.summary_due_at = None
            user.summary_claimed_at = None
            await session.flush()
            return _user_view(user)

    async def set_pending(self, user_id: int, pending: dict[str, Any] | None) -> None:
        """Remember (or clear, with None) the prompt the person is answering. No-op for an unknown person."""
        async with self._write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(pending=pending, updated_at=_now())
            )

    async def mark_blocked(self, user_id: int) -> None:
        """Note that the person blocked the bot (Telegram answered 403); `ensure_user` clears it."""
        async with self._write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(blocked_at=_now(), updated_at=_now())
            )

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
    ) -> MealView:
        """A new draft meal, dated on the person's local day at `eaten_at` (an aware datetime).

        The prediction is stored when `recognition` is given and is not a failed read (`error` set).
        Items with source "model" remember their food as the model's. Raises LookupError for an
        unknown person and ValueError for a bad item (unknown food, grams out of range, bad source).
        """
        if eaten_at.tzinfo is None or eaten_at.utcoffset() is None:
            raise ValueError("eaten_at must be timezone-aware")
        rows = []
        for position, new in enumerate(items):
            grams = _check_grams(new.grams)
            food = self._food(new.food_key)
            row = MealItem(
                position=position,
                food_key=new.food_key,
                grams=grams,
                source=_check_source(new.source),
                confidence=new.confidence,
                model_key=new.food_key if new.source == "model" else None,
            )
            _set_macros(row, macros_for(food, grams))
            rows.append(row)
        prediction = None
        if recognition is not None and recognition.error is None:
            prediction = Prediction(
                bundle_id=recognition.bundle_id,
                labels=[[label, float(score)] for label, score in recognition.labels],
                foods=[[food.key, float(food.confidence)] for food in recognition.foods],
                no_food=recognition.no_food,
            )
        async with self._write() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise LookupError(f"no user {user_id}")
            now = _now()
            meal = Meal(
                user_id=user_id,
                status="draft",
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

    async def get_meal(self, meal_id: int, user_id: int) -> MealView | None:
        """The meal, draft or saved; None when it does not exist or belongs to someone else."""
        if not _valid_id(meal_id):
            return None
        async with self._read() as session:
            meal = await session.scalar(_meals_query().where(Meal.id == meal_id, Meal.user_id == user_id))
            return self._meal_view(meal) if meal is not None else None

    async def set_card(self, meal_id: int, chat_id: int, message_id: int) -> None:
        """Remember the message that shows the meal's card, so it can be edited in place."""
        if not _valid_id(meal_id):
            return
        async with self._write() as session:
            await session.execute(
                update(Meal)
                .where(Meal.id == meal_id)
                .values(card_chat_id=chat_id, card_message_id=message_id, updated_at=_now())
            )

    async def change_item_food(
        self, meal_id: int, item_id: int, user_id: int, food_key: str
    ) -> MealView | None:
        """Make the item another food, at that food's default portion (source "changed")."""
        food = self._food(food_key)
        grams = _check_grams(food.portion_g)
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id)
            if found is None:
                return None
            meal, item = found
            item.food_key = food_key
            item.grams = grams
            _set_macros(item, macros_for(food, grams))
            item.source = "changed"
            item.confidence = _model_confidence(meal, food_key)
            await self._track_correction(session, meal, item, removed=False)
            return await self._touched(session, meal)

    async def remove_item(self, meal_id: int, item_id: int, user_id: int) -> MealView | None:
        """Take the item out of the draft."""
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id)
            if found is None:
                return None
            meal, item = found
            await self._track_correction(session, meal, item, removed=True)
            meal.items.remove(item)
            return await self._touched(session, meal)

    async def scale_item(self, meal_id: int, item_id: int, user_id: int, factor: float) -> MealView | None:
        """Multiply the item's grams by `factor` (> 0), kept to one decimal and within 0.1 to 5000 g.

        The result is clamped rather than refused, so a "double" button on a large portion stops at the
        limit. Raises ValueError for a factor that is not a positive finite number.
        """
        factor = float(factor)
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"scale factor must be a positive number, not {factor!r}")
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id)
            if found is None:
                return None
            meal, item = found
            grams = min(MAX_GRAMS, max(MIN_SCALED_GRAMS, round(item.grams * factor, 1)))
            self._regram(item, grams)
            return await self._touched(session, meal)

    async def set_item_grams(self, meal_id: int, item_id: int, user_id: int, grams: float) -> MealView | None:
        """Set the item's grams (more than 0, at most 5000; ValueError otherwise)."""
        grams = _check_grams(grams)
        async with self._write() as session:
            found = await self._draft_item(session, meal_id, item_id, user_id)
            if found is None:
                return None
            meal, item = found
            self._regram(item, grams)
            return await self._touched(session, meal)

    async def add_item(
        self, meal_id: int, user_id: int, food_key: str, grams: float | None = None, source: str = "typed"
    ) -> MealView | None:
        """Add a food at the end of the draft, at `grams` or the food's default portion."""
        food = self._food(food_key)
        grams = _check_grams(food.portion_g if grams is None else grams)
        source = _check_source(source)
        if not _valid_id(meal_id):
            return None
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            position = max((i.position for i in meal.items), default=-1) + 1
            item = MealItem(
                position=position,
                food_key=food_key,
                grams=grams,
                source=source,
                confidence=_model_confidence(meal, food_key) if source == "model" else None,
                model_key=None,
            )
            _set_macros(item, macros_for(food, grams))
            meal.items.append(item)
            await session.flush()
            await self._track_correction(session, meal, item, removed=False)
            return await self._touched(session, meal)

    async def save_meal(self, meal_id: int, user_id: int) -> MealView | None:
        """Save the draft with the numbers it shows; None if it is not a draft of this person."""
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
            if meal is None:
                return None
            now = _now()
            meal.status = "saved"
            meal.saved_at = now
            if meal.replaces_meal_id is not None:
                await self._replace_original(session, meal)
            return await self._touched(session, meal)

    async def discard_draft(self, meal_id: int, user_id: int) -> bool:
        """Delete a draft of this person (its corrections stay); False if there was none."""
        return await self._delete(meal_id, user_id, "draft")

    async def delete_meal(self, meal_id: int, user_id: int) -> bool:
        """Delete a saved meal of this person (its corrections stay); False if there was none."""
        return await self._delete(meal_id, user_id, "saved")

    # -- reading -------------------------------------------------------------------------------------

    async def meals_on(self, user_id: int, local_date: date) -> list[MealView]:
        """The person's saved meals of a local day, in the order they were eaten."""
        async with self._read() as session:
            meals = await session.scalars(
                _meals_query()
                .where(Meal.user_id == user_id, Meal.local_date == local_date, Meal.status == "saved")
                .order_by(Meal.eaten_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def last_saved(self, user_id: int) -> MealView | None:
        """The meal the person saved most recently."""
        async with self._read() as session:
            meal = await session.scalar(
                _meals_query()
                .where(Meal.user_id == user_id, Meal.status == "saved")
                .order_by(Meal.saved_at.desc(), Meal.id.desc())
                .limit(1)
            )
            return self._meal_view(meal) if meal is not None else None

    async def drafts(self, user_id: int) -> list[MealView]:
        """The person's drafts, oldest first."""
        async with self._read() as session:
            meals = await session.scalars(
                _meals_query()
                .where(Meal.user_id == user_id, Meal.status == "draft")
                .order_by(Meal.created_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def corrections(self, user_id: int | None = None) -> list[CorrectionView]:
        """Corrections of one person, or of everyone, oldest first (the training export reads these)."""
        stmt = select(Correction).order_by(Correction.id)
        if user_id is not None:
            stmt = stmt.where(Correction.user_id == user_id)
        async with self._read() as session:
            return [_correction_view(row) for row in await session.scalars(stmt)]

    async def unblock(self, user_id: int) -> bool:
        """The person wrote or pressed something: no longer blocked. Reads first, writes only if blocked."""
        async with self._read() as session:
            blocked = await session.scalar(select(User.blocked_at).where(User.id == user_id))
        if blocked is None:
            return False
        async with self._write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(blocked_at=None, updated_at=_now())
            )
        return True

    # -- settings and goals --------------------------------------------------------------------------

    async def update_settings(self, user_id: int, changes: dict[str, Any]) -> UserView | None:
        """Merge `changes` into the person's settings (a None value removes a key)."""
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            merged = copy.deepcopy(user.settings)
            for key, value in changes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            user.settings = merged
            user.updated_at = _now()
            await session.flush()
            return _user_view(user)

    async def set_goals(self, user_id: int, goals: dict[str, Any]) -> UserView | None:
        """Replace the person's goals ({} clears them)."""
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            user.goals = copy.deepcopy(goals)
            user.updated_at = _now()
            await session.flush()
            return _user_view(user)

    async def set_summary(
        self, user_id: int, now: datetime, *, minute: int | None = None, on: bool | None = None
    ) -> UserView | None:
        """Change the summary time and/or switch summaries on or off, and plan the next one.

        A new time keeps the day of the summary owed next (due at once when the new time has passed);
        switching on plans the next one from now (`bot.summary_times`).
        """
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            if minute is not None:
                user.summary_minute = minute
                user.summary_due_at = moved_due(
                    user.summary_due_at, now, minute, user.timezone, user.summary_last_date
                )
            if on is not None:
                if on and not user.summaries_on:
                    user.summary_due_at = first_due(
                        now, user.summary_minute, user.timezone, user.summary_last_date
                    )
                user.summaries_on = on
            user.summary_claimed_at = None
            user.updated_at = _now()
            await session.flush()
            return _user_view(user)

    # -- daily summaries -----------------------------------------------------------------------------

    async def plan_summaries(self, now: datetime, limit: int = 1000) -> int:
        """Give people never planned (new, or migrated) their first due time; returns how many."""
        async with self._write() as session:
            rows = (
                await session.execute(
                    select(User.id, User.timezone, User.summary_minute, User.summary_last_date)
                    .where(User.summary_due_at.is_(None))
                    .limit(limit)
                )
            ).all()
            if not rows:
                return 0
            users = cast(Table, User.__table__)
            await session.execute(
                update(users)
                .where(users.c.id == bindparam("b_id"), users.c.summary_due_at.is_(None))
                .values(summary_due_at=bindparam("b_due")),
                [
                    {
                        "b_id": row.id,
                        "b_due": first_due(now, row.summary_minute, row.timezone, row.summary_last_date),
                    }
                    for row in rows
                ],
            )
            return len(rows)

    async def claim_due_summaries(self, now: datetime, limit: int, lease: timedelta) -> list[SummaryClaim]:
        """Claim up to `limit` people whose summary is due at `now`, with one conditional UPDATE.

        Due: summaries on, not blocked, due time reached, and nobody holds the claim (or the holder has
        not finished within `lease`, e.g. its process died). On PostgreSQL the candidate rows are locked
        with SKIP LOCKED, so concurrent processes claim disjoint sets without waiting on each other, and
        the UPDATE re-checks the condition on the newest row version; SQLite runs one writer at a time.
        Either way each person is claimed by one process only.
        """
        condition = and_(
            User.summaries_on.is_(True),
            User.blocked_at.is_(None),
            User.summary_due_at <= now,
            or_(User.summary_claimed_at.is_(None), User.summary_claimed_at < now - lease),
        )
        candidates = (
            select(User.id)
            .where(condition)
            .order_by(User.summary_due_at, User.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(User)
            .where(User.id.in_(candidates), condition)
            .values(summary_claimed_at=now)
            .returning(
                User.id,
                User.chat_id,
                User.timezone,
                User.summary_minute,
                User.summary_due_at,
                User.summary_last_date,
                User.settings,
                User.goals,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._write() as session:
            rows = (await session.execute(stmt)).all()
        return [
            SummaryClaim(
                user_id=row.id,
                chat_id=row.chat_id,
                timezone=row.timezone,
                summary_minute=row.summary_minute,
                due_at=row.summary_due_at,
                claimed_at=now,
                last_date=row.summary_last_date,
                settings=dict(row.settings or {}),
                goals=dict(row.goals or {}),
            )
            for row in sorted(rows, key=lambda r: (r.summary_due_at, r.id))
        ]

    async def finish_summaries(self, outcomes: Sequence[SummaryOutcome], now: datetime) -> None:
        """Record what became of claimed summaries, in one transaction.

        Only a claim still held (same `claimed_at`) is changed: one that expired and was taken over by
        another process is left to that process.
        """
        if not outcomes:
            return
        users = cast(Table, User.__table__)
        held = and_(users.c.id == bindparam("b_id"), users.c.summary_claimed_at == bindparam("b_claimed"))
        done = [o for o in outcomes if o.next_due_at is not None and not o.blocked]
        blocked = [o for o in outcomes if o.next_due_at is not None and o.blocked]
        released = [o for o in outcomes if o.next_due_at is None]
        async with self._write() as session:
            if done:
                await session.execute(
                    update(users)
                    .where(held)
                    .values(
                        summary_due_at=bindparam("b_due"),
                        summary_claimed_at=None,
                        summary_last_date=func.coalesce(
                            bindparam("b_day", type_=Date()), users.c.summary_last_date
                        ),
                    ),
                    [
                        {"b_id": o.user_id, "b_claimed": o.claimed_at, "b_due": o.next_due_at, "b_day": o.day}
                        for o in done
                    ],
                )
            if blocked:
                await session.execute(
                    update(users)
                    .where(held)
                    .values(summary_due_at=bindparam("b_due"), summary_claimed_at=None, blocked_at=now),
                    [{"b_id": o.user_id, "b_claimed": o.claimed_at, "b_due": o.next_due_at} for o in blocked],
                )
            if released:
                await session.execute(
                    update(users).where(held).values(summary_claimed_at=None),
                    [{"b_id": o.user_id, "b_claimed": o.claimed_at} for o in released],
                )

    async def meals_on_days(self, days: Iterable[tuple[int, date]]) -> dict[tuple[int, date], list[MealView]]:
        """Saved meals for many (person, local day) pairs at once, each list in the order eaten."""
        wanted = sorted(set(days))
        found: dict[tuple[int, date], list[MealView]] = {pair: [] for pair in wanted}
        if not wanted:
            return found
        async with self._read() as session:
            meals = await session.scalars(
                _meals_query()
                .where(tuple_(Meal.user_id, Meal.local_date).in_(wanted), Meal.status == "saved")
                .order_by(Meal.eaten_at, Meal.id)
            )
            for meal in meals:
                found[(meal.user_id, meal.local_date)].append(self._meal_view(meal))
        return found

    # -- history, export, forgetting ------------------------------------------------------------------

    async def day_totals(self, user_id: int, first: date, last: date) -> dict[date, Macros]:
        """Per local day from `first` to `last` (both included): the saved meals' macros (zero if none)."""
        stmt = (
            select(
                Meal.local_date,
                func.coalesce(func.sum(MealItem.kcal), 0.0),
                func.coalesce(func.sum(MealItem.protein_g), 0.0),
                func.coalesce(func.sum(MealItem.fat_g), 0.0),
                func.coalesce(func.sum(MealItem.carbs_g), 0.0),
            )
            .join(MealItem, MealItem.meal_id == Meal.id)
            .where(
                Meal.user_id == user_id,
                Meal.status == "saved",
                Meal.local_date >= first,
                Meal.local_date <= last,
            )
            .group_by(Meal.local_date)
        )
        days = {first + timedelta(days=n): Macros(0.0, 0.0, 0.0, 0.0) for n in range((last - first).days + 1)}
        async with self._read() as session:
            for day, kcal, protein, fat, carbs in (await session.execute(stmt)).all():
                days[day] = Macros(float(kcal), float(protein), float(fat), float(carbs))
        return days

    async def all_meals(self, user_id: int) -> list[MealView]:
        """Every meal of the person, saved and draft, in the order eaten (for the export)."""
        async with self._read() as session:
            meals = await session.scalars(
                _meals_query().where(Meal.user_id == user_id).order_by(Meal.eaten_at, Meal.id)
            )
            return [self._meal_view(meal) for meal in meals]

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete everything held about the person, in every table; returns rows deleted per table.

        Follows the foreign keys from `users`: a row goes when it refers to the person, or to a row
        that goes (their meals' items and predictions, corrections of their photos). Tables are emptied
        children first, so each delete can still find its parents. Tables added later are covered.
        """
        tables = list(Base.metadata.sorted_tables)
        doomed: dict[str, Any] = {}
        for table in tables:  # parents before children
            conditions = []
            if table.name == "users":
                conditions.append(table.c.id == user_id)
            for fk in table.foreign_keys:
                parent = fk.column.table
                if parent.name == table.name or parent.name not in doomed:
                    continue
                conditions.append(fk.parent.in_(select(fk.column).where(doomed[parent.name])))
            if conditions:
                doomed[table.name] = or_(*conditions)
        counts: dict[str, int] = {}
        async with self._write() as session:
            for table in reversed(tables):
                if table.name in doomed:
                    result = await session.execute(delete(table).where(doomed[table.name]))
                    counts[table.name] = int(cast(CursorResult[Any], result).rowcount)
        return counts

    # -- reopening saved meals ----------------------------------------------------------------------

    async def reopen_meal(self, meal_id: int, user_id: int) -> MealView | None:
        """A draft copy of a saved meal to change and save again (the copy already open, if any).

        Saving the copy replaces the original (`save_meal`); discarding it leaves the original as it
        was. None when the meal is not a saved meal of this person.
        """
        if not _valid_id(meal_id):
            return None
        async with self._write() as session:
            original = await session.scalar(
                _meals_query()
                .where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == "saved")
                .with_for_update(of=Meal)
            )
            if original is None:
                return None
            open_copy = await session.scalar(
                _meals_query().where(Meal.replaces_meal_id == meal_id, Meal.status == "draft").limit(1)
            )
            if open_copy is not None:
                return self._meal_view(open_copy)
            now = _now()
            prediction = None
            if original.prediction is not None:
                prediction = Prediction(
                    bundle_id=original.prediction.bundle_id,
                    labels=copy.deepcopy(original.prediction.labels),
                    foods=copy.deepcopy(original.prediction.foods),
                    no_food=original.prediction.no_food,
                    created_at=original.prediction.created_at,
                )
            draft = Meal(
                user_id=user_id,
                status="draft",
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
                    )
                    for item in original.items
                ],
            )
            session.add(draft)
            await session.flush()
            return self._meal_view(draft)

    async def move_meal(self, meal_id: int, user_id: int, eaten_at: datetime) -> MealView | None:
        """Set when a draft was eaten (an aware datetime); its local day follows, in the person's zone."""
        if eaten_at.tzinfo is None or eaten_at.utcoffset() is None:
            raise ValueError("eaten_at must be timezone-aware")
        async with self._write() as session:
            meal = await self._draft(session, meal_id, user_id)
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
            _meals_query()
            .where(Meal.id == original_id, Meal.user_id == draft.user_id)
            .with_for_update(of=Meal)
        )
        if original is None:
            return
        # Corrections of removed items (no item left) now belong to the copy; those of the original's
        # items are made again below from the copy's items, which carry the same model foods.
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
        removed = [item for pos, item in original_items.items() if pos not in kept and item.model_key]
        await session.delete(original)
        await session.flush()
        for item in draft.items:
            await self._track_correction(session, draft, item, removed=False)
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
                        created_at=_now(),
                    )
                )
            await session.flush()

    # -- helpers -------------------------------------------------------------------------------------

    def _food(self, food_key: str) -> Food:
        food = self._table.get(food_key)
        if food is None:
            raise ValueError(f"the nutrition table has no food {food_key!r}")
        return food

    def _regram(self, item: MealItem, grams: float) -> None:
        """Set new grams; macros from the table, or scaled from the stored ones if the table lost the food."""
        food = self._table.get(item.food_key)
        if food is not None:
            macros = macros_for(food, grams)
        else:
            ratio = grams / item.grams
            stored = _stored_macros(item)
            macros = Macros(
                kcal=stored.kcal * ratio,
                protein_g=stored.protein_g * ratio,
                fat_g=stored.fat_g * ratio,
                carbs_g=stored.carbs_g * ratio,
            )
        item.grams = grams
        _set_macros(item, macros)

    async def _draft(self, session: AsyncSession, meal_id: int, user_id: int) -> Meal | None:
        """This person's draft with its items and prediction, its row locked for the transaction."""
        if not _valid_id(meal_id):
            return None
        return await session.scalar(
            _meals_query()
            .where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == "draft")
            .with_for_update(of=Meal)
        )

    async def _draft_item(
        self, session: AsyncSession, meal_id: int, item_id: int, user_id: int
    ) -> tuple[Meal, MealItem] | None:
        if not _valid_id(item_id):
            return None
        meal = await self._draft(session, meal_id, user_id)
        if meal is None:
            return None
        item = next((i for i in meal.items if i.id == item_id), None)
        return (meal, item) if item is not None else None

    async def _touched(self, session: AsyncSession, meal: Meal) -> MealView:
        meal.updated_at = _now()
        await session.flush()
        return self._meal_view(meal)

    async def _delete(self, meal_id: int, user_id: int, status: str) -> bool:
        if not _valid_id(meal_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                delete(Meal).where(Meal.id == meal_id, Meal.user_id == user_id, Meal.status == status)
            )
            return bool(cast(CursorResult[Any], result).rowcount)

    async def _track_correction(
        self, session: AsyncSession, meal: Meal, item: MealItem, *, removed: bool
    ) -> None:
        """Bring the item's correction row in line with the item (see the module docstring)."""
        if meal.prediction is None or meal.photo_file_id is None:
            return
        if meal.replaces_meal_id is not None:
            return  # a reopened copy: its corrections are settled when it is saved (_replace_original)
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
                created_at=_now(),
            )
            session.add(existing)
        existing.final_key = final_key
        existing.kind = kind
        await session.flush()  # before the item may be deleted in the same transaction

    def _meal_view(self, meal: Meal) -> MealView:
        prediction = None
        if meal.prediction is not None:
            prediction = PredictionView(
                bundle_id=meal.prediction.bundle_id,
                foods=_pairs(meal.prediction.foods),
                labels=_pairs(meal.prediction.labels),
                no_food=meal.prediction.no_food,
            )
        return MealView(
            id=meal.id,
            user_id=meal.user_id,
            status=meal.status,
            eaten_at=meal.eaten_at,
            local_date=meal.local_date,
            caption=meal.caption,
            photo_file_id=meal.photo_file_id,
            photo_unique_id=meal.photo_unique_id,
            card_chat_id=meal.card_chat_id,
            card_message_id=meal.card_message_id,
            items=tuple(
                self._item_view(item) for item in sorted(meal.items, key=lambda i: (i.position, i.id))
            ),
            prediction=prediction,
        )

    def _item_view(self, item: MealItem) -> ItemView:
        food = self._table.get(item.food_key)
        return ItemView(
            id=item.id,
            position=item.position,
            food_key=item.food_key,
            name=food.name if food is not None else item.food_key,
            grams=item.grams,
            portion_name=food.portion_name if food is not None else "",
            macros=_stored_macros(item),
            source=item.source,
            confidence=item.confidence,
        )
