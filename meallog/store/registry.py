"""The model registry: every bundle the bot has served or considered, with its files, in the database.

A bundle is registered with its files (`bundle.json`, `model.safetensors`, `model.onnx`), so any process
that reaches the database can serve it: a `foodbot worker` on another machine fetches a promoted bundle
into its own cache (`fetch`) instead of needing a shared disk. States: "candidate" (built, not serving),
"serving" (at most one), "retired" (served before; rollback goes back to one), "refused" (the gate said no).

Promotion and rollback are one transaction each, so two hosts running them at once never leave two
bundles serving. Reading bundle files needs no torch: this module only moves bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from meallog.db.models import BundleFile, MemoryExample, RegisteredBundle, RetrainRun, User
from meallog.store.base import Store

#: The files of a bundle directory the registry keeps (the rest of a training run's folder is not served).
BUNDLE_FILES = ("bundle.json", "model.safetensors", "model.onnx")


class RegistryError(LookupError):
    """A registry action that cannot be done; the message says why, for the command line."""


@dataclass(frozen=True, slots=True)
class BundleRecord:
    """A registered bundle as the commands and the serving processes see it."""

    id: str
    parent_id: str | None
    arch: str
    state: str
    data: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None


def embedding_space(record: BundleRecord) -> str:
    """Which bundle's embeddings this one's are: its parent's for a head-only retrain (same network up
    to the features), else its own. Two bundles of one space can share the memory of corrections."""
    return str(record.data.get("embeddings_of") or record.id)


def _record(row: RegisteredBundle) -> BundleRecord:
    return BundleRecord(
        id=row.id,
        parent_id=row.parent_id,
        arch=row.arch,
        state=row.state,
        data=dict(row.data or {}),
        metrics=dict(row.metrics or {}),
        created_at=row.created_at,
        promoted_at=row.promoted_at,
    )


class RegistryStore(Store):
    """Register, list, promote, roll back and fetch bundles; claim the nightly retrain."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Its sessions, for the other stores a promotion touches (the memory of corrections)."""
        return self._sessions

    async def register(
        self,
        bundle_dir: Path,
        *,
        parent_id: str | None,
        state: str = "candidate",
        data: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> BundleRecord:
        """Store the bundle in `bundle_dir` with its files; a bundle registered already is returned as it is
        (its id is its weights' digest, so the same id is the same model)."""
        meta = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))
        bundle_id = str(meta["id"])
        space = (meta.get("provenance") or {}).get("embeddings_of") or bundle_id
        data = {**(data or {}), "embeddings_of": str(space)}
        async with self._write() as session:
            found = await session.get(RegisteredBundle, bundle_id)
            if found is not None:
                return _record(found)
            row = RegisteredBundle(
                id=bundle_id,
                parent_id=parent_id,
                arch=str(meta.get("arch", "")),
                state=state,
                data=data,
                metrics=metrics or {},
                created_at=self._now(),
                promoted_at=self._now() if state == "serving" else None,
            )
            session.add(row)
            await session.flush()
            for name in BUNDLE_FILES:
                path = bundle_dir / name
                if path.is_file():
                    session.add(BundleFile(bundle_id=bundle_id, name=name, content=path.read_bytes()))
            return _record(row)

    async def records(self) -> list[BundleRecord]:
        """Every registered bundle, newest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(RegisteredBundle).order_by(RegisteredBundle.created_at.desc(), RegisteredBundle.id)
            )
            return [_record(row) for row in rows]

    async def get(self, bundle_id: str) -> BundleRecord | None:
        async with self._read() as session:
            row = await session.get(RegisteredBundle, bundle_id)
            return _record(row) if row is not None else None

    async def serving(self) -> BundleRecord | None:
        """The bundle every process should serve, or None while nothing was ever promoted."""
        async with self._read() as session:
            row = await session.scalar(select(RegisteredBundle).where(RegisteredBundle.state == "serving"))
            return _record(row) if row is not None else None

    async def serving_dir(self, cache_dir: Path) -> Path | None:
        """The directory of the bundle that should serve (fetched into `cache_dir`), or None while nothing
        was ever promoted: what `model.serving_watch.BundleWatch` asks."""
        record = await self.serving()
        return await self.fetch(record.id, cache_dir) if record is not None else None

    async def set_outcome(self, bundle_id: str, state: str, metrics: dict[str, Any]) -> BundleRecord:
        """Record the gate's report and verdict ("candidate" kept for a manual promote, or "refused")."""
        async with self._write() as session:
            row = await session.get(RegisteredBundle, bundle_id)
            if row is None:
                raise RegistryError(f"no bundle {bundle_id} in the registry")
            row.state = state
            row.metrics = metrics
            return _record(row)

    async def update_data(self, bundle_id: str, **fields: Any) -> None:
        """Merge `fields` into the bundle's data (what it saw), e.g. the examples it serves with."""
        async with self._write() as session:
            row = await session.get(RegisteredBundle, bundle_id)
            if row is None:
                raise RegistryError(f"no bundle {bundle_id} in the registry")
            row.data = {**(row.data or {}), **fields}

    async def promote(self, bundle_id: str) -> BundleRecord:
        """Make the bundle the serving one; the one serving before retires, and when the two share their
        embeddings everyone's memory of corrections is carried over in the same transaction. Raises
        `RegistryError` for an unknown bundle or one whose files were dropped."""
        async with self._write() as session:
            await self._lock_all(session)
            row = await session.get(RegisteredBundle, bundle_id)
            if row is None:
                raise RegistryError(f"no bundle {bundle_id} in the registry (foodbot model list)")
            has_files = select(BundleFile.name).where(BundleFile.bundle_id == bundle_id).limit(1)
            if await session.scalar(has_files) is None:  # names only: the contents are megabytes
                raise RegistryError(f"{bundle_id} was refused and its files dropped; retrain again")
            before = await session.scalar(select(RegisteredBundle).where(RegisteredBundle.state == "serving"))
            await self._retire_serving(session, keep=bundle_id)
            row.state = "serving"
            row.promoted_at = self._now()
            if before is not None:
                await _carry_memory(session, _record(before), _record(row))
            return _record(row)

    async def rollback(self) -> BundleRecord:
        """Serve again what served before: the serving bundle's parent (the bundle it was built from or
        registered over), so rolling back twice walks back two steps, never forward again. Raises
        `RegistryError` when nothing serves or the serving bundle has no parent that served."""
        async with self._write() as session:
            await self._lock_all(session)
            current = await session.scalar(
                select(RegisteredBundle).where(RegisteredBundle.state == "serving")
            )
            if current is None:
                raise RegistryError("nothing serves from the registry yet, so there is nothing to roll back")
            parent = await session.get(RegisteredBundle, current.parent_id) if current.parent_id else None
            if parent is None or parent.promoted_at is None:
                raise RegistryError(f"{current.id} has no earlier serving bundle to go back to")
            current.state = "retired"
            parent.state = "serving"
            parent.promoted_at = self._now()
            await _carry_memory(session, _record(current), _record(parent))
            return _record(parent)

    async def drop_files(self, bundle_id: str) -> None:
        """Delete a refused candidate's files (tens of megabytes a night); its record and report stay."""
        async with self._write() as session:
            await session.execute(delete(BundleFile).where(BundleFile.bundle_id == bundle_id))

    async def _lock_all(self, session: AsyncSession) -> None:
        """Lock every registry row for this transaction: two promotions at once (PostgreSQL's READ
        COMMITTED would let each retire only what it saw) then run one after the other."""
        await session.execute(select(RegisteredBundle.id).with_for_update())

    async def _retire_serving(self, session: AsyncSession, keep: str) -> None:
        await session.execute(
            update(RegisteredBundle)
            .where(RegisteredBundle.state == "serving", RegisteredBundle.id != keep)
            .values(state="retired")
        )

    async def fetch(self, bundle_id: str, cache_dir: Path) -> Path:
        """The bundle's directory under `cache_dir`, written from the database the first time (atomically:
        into a temporary sibling, then renamed), so every process on a machine shares one copy."""
        target = cache_dir / bundle_id
        if (target / "bundle.json").is_file():
            return target
        async with self._read() as session:
            files = list(await session.scalars(select(BundleFile).where(BundleFile.bundle_id == bundle_id)))
        if not any(f.name == "bundle.json" for f in files):
            raise RegistryError(f"the registry holds no files of bundle {bundle_id}")
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{bundle_id}-", dir=cache_dir))
        try:
            for file in files:
                (tmp / file.name).write_bytes(file.content)
            try:
                os.replace(tmp, target)
            except OSError:
                if not (target / "bundle.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    async def claim_run(self, key: str, claimer: str) -> bool:
        """Claim the retrain for `key` (a day); True for exactly one claimer, however many try."""
        try:
            async with self._write() as session:
                session.add(RetrainRun(key=key, claimed_by=claimer, claimed_at=self._now(), outcome={}))
        except IntegrityError:
            return False
        return True

    async def finish_run(self, key: str, outcome: dict[str, Any]) -> None:
        """Record how the claimed retrain ended (its summary, for `foodbot model list` and the log)."""
        async with self._write() as session:
            row = await session.get(RetrainRun, key)
            if row is not None:
                row.finished_at = self._now()
                row.outcome = outcome


async def _carry_memory(session: AsyncSession, before: BundleRecord, after: BundleRecord) -> None:
    """Copy the memory examples `after` lacks from `before` when both have the same embeddings (a
    head-only retrain and its parent): one INSERT … SELECT in the promotion's transaction, so a bundle
    never serves without the memory, and only of people who are still here (/forget meanwhile)."""
    if before.id == after.id or embedding_space(before) != embedding_space(after):
        return
    old, new = aliased(MemoryExample), aliased(MemoryExample)
    lacking = (
        select(new.id)
        .where(
            new.bundle_id == after.id,
            new.user_id == old.user_id,
            new.food_key == old.food_key,
            new.source == old.source,
            new.created_at == old.created_at,
            or_(
                new.photo_unique_id == old.photo_unique_id,
                and_(new.photo_unique_id.is_(None), old.photo_unique_id.is_(None)),
            ),
        )
        .exists()
    )
    rows = (
        select(
            old.user_id,
            old.food_key,
            old.embedding,
            literal(after.id),
            old.source,
            old.photo_file_id,
            old.photo_unique_id,
            old.created_at,
        )
        .join(User, User.id == old.user_id)
        .where(old.bundle_id == before.id, ~lacking)
    )
    columns = [
        MemoryExample.user_id,
        MemoryExample.food_key,
        MemoryExample.embedding,
        MemoryExample.bundle_id,
        MemoryExample.source,
        MemoryExample.photo_file_id,
        MemoryExample.photo_unique_id,
        MemoryExample.created_at,
    ]
    await session.execute(insert(MemoryExample).from_select([c.key for c in columns], rows))
