"""People: who they are to the bot, their time zone, settings, goals and daily summary time.

A person's pending prompt (what their next text answers) is kept here too, in the database, so any
bot process can take their next message.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from meallog.db.models import User
from meallog.prompts import Prompt
from meallog.store.base import Store
from meallog.store.views import UserView, user_view
from meallog.summary_times import first_due, moved_due


class PeopleStore(Store):
    """People and what they set: created on first contact, changed one transaction at a time."""

    async def ensure_user(self, user_id: int, chat_id: int) -> UserView:
        """Create the person on first contact, or update their chat; either way they are not blocked.

        Called for every update, so it only writes when something changes; two processes creating the
        same person at once both succeed (an upsert).
        """
        async with self._read() as session:
            user = await session.get(User, user_id)
            if user is not None and user.chat_id == chat_id and user.blocked_at is None:
                return user_view(user)
        now = self._now()
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
            return user_view(user)

    async def get_user(self, user_id: int) -> UserView | None:
        """The person; None for someone the bot has never met, or has forgotten."""
        async with self._read() as session:
            user = await session.get(User, user_id)
            return user_view(user) if user is not None else None

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
            user.updated_at = self._now()
            # Planned again in the new zone by the next summary tick (bot.schedule).
            user.summary_due_at = None
            user.summary_claimed_at = None
            await session.flush()
            return user_view(user)

    async def set_pending(self, user_id: int, pending: Prompt | None) -> None:
        """Remember (or clear, with None) the prompt the person is answering. No-op for an unknown person."""
        stored = replace(pending, asked_at=self._now()).to_json() if pending is not None else None
        async with self._write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(pending=stored, updated_at=self._now())
            )

    async def unblock(self, user_id: int) -> bool:
        """The person wrote or pressed something: no longer blocked. Reads first, writes only if blocked."""
        async with self._read() as session:
            blocked = await session.scalar(select(User.blocked_at).where(User.id == user_id))
        if blocked is None:
            return False
        async with self._write() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(blocked_at=None, updated_at=self._now())
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
            user.updated_at = self._now()
            await session.flush()
            return user_view(user)

    async def set_goals(self, user_id: int, goals: dict[str, Any]) -> UserView | None:
        """Replace the person's goals ({} clears them)."""
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            user.goals = copy.deepcopy(goals)
            user.updated_at = self._now()
            await session.flush()
            return user_view(user)

    async def set_summary(
        self, user_id: int, now: datetime, *, minute: int | None = None, on: bool | None = None
    ) -> UserView | None:
        """Change the summary time and/or switch summaries on or off, and plan the next one.

        A new time keeps the day of the summary owed next (due at once when the new time has passed);
        switching on plans the next one from now (`meallog.summary_times`).
        """
        async with self._write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                return None
            if minute is not None:
                user.summary_due_at = moved_due(
                    user.summary_due_at,
                    user.summary_minute,
                    now,
                    minute,
                    user.timezone,
                    user.summary_last_date,
                )
                user.summary_minute = minute
            if on is not None:
                if on and not user.summaries_on:
                    user.summary_due_at = first_due(
                        now, user.summary_minute, user.timezone, user.summary_last_date
                    )
                user.summaries_on = on
            user.summary_claimed_at = None
            user.updated_at = self._now()
            await session.flush()
            return user_view(user)
