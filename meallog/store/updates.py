"""The journal of updates received from Telegram: recorded before they are handled, finished after.

Telegram forgets an update once the bot has confirmed it (the next getUpdates offset, or the webhook's
200), so the bot records it here first. Then:

* a process that dies with updates in hand loses nothing: each claim is a lease (`claim`), renewed
  while the process lives (`renew`); once it runs out, any process takes the update over (`due`);
* an update delivered twice (a webhook retry, polling again after a crash) is recorded once
  (`record` answers which ids are new) and claimed by one process at a time;
* a failure that may pass (Telegram or the network down for a moment) leaves the update "new", with
  its next try due after a backoff (`retry_later`); other failures, and too many tries, end it as
  "failed" with the error kept for the operator (`fail`).

Finished rows keep only their id and state, for `KEEP` (longer than Telegram redelivers), and are then
pruned. `/forget` deletes a person's rows with the rest of their data (`AccountStore.forget_user`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult

from meallog.db.models import ReceivedUpdate
from meallog.store.base import Store

#: How long handled updates are remembered, so that a late redelivery is recognised.
KEEP = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An update to handle (again): its id, the JSON Telegram sent, and how many tries it has had."""

    update_id: int
    payload: dict[str, Any]
    attempts: int


class UpdateStore(Store):
    """The `updates` table; every method is one short transaction."""

    async def record(
        self,
        received: Sequence[tuple[int, int | None, dict[str, Any]]],
        now: datetime,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> set[int]:
        """Record (update id, user id, payload) rows; returns the ids not recorded before.

        With `owner` and `lease`, the new rows are held by that process from the start, as if claimed
        (their first try): the process that received them handles them without another write.
        """
        if not received:
            return set()
        async with self._write() as session:
            insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            # Two processes may record the same update at once (webhook retries go to any replica): the
            # second insert does nothing, and RETURNING names only the rows this one added.
            fresh = await session.scalars(
                insert(ReceivedUpdate)
                .values(
                    [
                        {
                            "update_id": update_id,
                            "user_id": user_id,
                            "payload": payload,
                            "state": "new",
                            "owner": owner,
                            "lease_until": now + lease if owner is not None and lease else None,
                            "attempts": 1 if owner is not None else 0,
                            "received_at": now,
                        }
                        for update_id, user_id, payload in received
                    ]
                )
                .on_conflict_do_nothing(index_elements=[ReceivedUpdate.update_id])
                .returning(ReceivedUpdate.update_id)
            )
            return {int(update_id) for update_id in fresh}

    async def claim(self, update_id: int, owner: str, now: datetime, lease: timedelta) -> int | None:
        """Take the update for handling until `now + lease`: which try this is (1 for the first), or
        None if it is finished or another process holds it (or its next try is not due yet)."""
        async with self._write() as session:
            attempts = await session.scalar(
                update(ReceivedUpdate)
                .where(
                    ReceivedUpdate.update_id == update_id,
                    ReceivedUpdate.state == "new",
                    or_(ReceivedUpdate.lease_until.is_(None), ReceivedUpdate.lease_until <= now),
                )
                .values(owner=owner, lease_until=now + lease, attempts=ReceivedUpdate.attempts + 1)
                .returning(ReceivedUpdate.attempts)
            )
            return int(attempts) if attempts is not None else None

    async def renew(self, update_ids: Iterable[int], owner: str, until: datetime) -> None:
        """Extend this process's leases (it is alive and still working on them)."""
        ids = list(update_ids)
        if not ids:
            return
        async with self._write() as session:
            await session.execute(
                update(ReceivedUpdate)
                .where(
                    ReceivedUpdate.update_id.in_(ids),
                    ReceivedUpdate.owner == owner,
                    ReceivedUpdate.state == "new",
                )
                .values(lease_until=until)
            )

    async def finish(self, update_id: int, owner: str, now: datetime) -> None:
        """The update was handled."""
        await self._end(update_id, owner, now, "done", None)

    async def fail(self, update_id: int, owner: str, now: datetime, error: str) -> None:
        """The update cannot be handled; `error` is kept for the operator."""
        await self._end(update_id, owner, now, "failed", error)

    async def retry_later(self, update_id: int, owner: str, at: datetime, error: str) -> None:
        """Release the update, to be tried again at `at` (by whichever process comes first)."""
        async with self._write() as session:
            await session.execute(
                update(ReceivedUpdate)
                .where(
                    ReceivedUpdate.update_id == update_id,
                    ReceivedUpdate.owner == owner,
                    ReceivedUpdate.state == "new",
                )
                .values(owner=None, lease_until=at, error=error)
            )

    async def due(self, now: datetime, limit: int, skip: Iterable[int] = ()) -> list[PendingUpdate]:
        """Unfinished updates nobody holds (their process died, or their retry is due), oldest first."""
        skipped = list(skip)
        query = (
            select(ReceivedUpdate.update_id, ReceivedUpdate.payload, ReceivedUpdate.attempts)
            .where(
                ReceivedUpdate.state == "new",
                or_(ReceivedUpdate.lease_until.is_(None), ReceivedUpdate.lease_until <= now),
            )
            .order_by(ReceivedUpdate.update_id)
            .limit(limit)
        )
        if skipped:
            query = query.where(ReceivedUpdate.update_id.not_in(skipped))
        async with self._read() as session:
            rows = (await session.execute(query)).all()
        return [PendingUpdate(int(row[0]), dict(row[1]), int(row[2])) for row in rows]

    async def state_of(self, update_id: int) -> str | None:
        """ "new", "done", "failed", or None for an update never recorded."""
        async with self._read() as session:
            state = await session.scalar(
                select(ReceivedUpdate.state).where(ReceivedUpdate.update_id == update_id)
            )
            return str(state) if state is not None else None

    async def prune(self, before: datetime) -> int:
        """Forget finished updates received before `before`; returns how many."""
        async with self._write() as session:
            result = await session.execute(
                delete(ReceivedUpdate).where(
                    ReceivedUpdate.state != "new", ReceivedUpdate.received_at < before
                )
            )
            return int(cast(CursorResult[Any], result).rowcount)

    async def _end(self, update_id: int, owner: str, now: datetime, state: str, error: str | None) -> None:
        async with self._write() as session:
            await session.execute(
                update(ReceivedUpdate)
                .where(ReceivedUpdate.update_id == update_id, ReceivedUpdate.owner == owner)
                # The payload (the person's text or photo) is not needed once handled: only the id is
                # kept, to recognise a redelivery.
                .values(state=state, finished_at=now, lease_until=None, error=error, payload={})
            )
