"""`foodbot model list | register DIR | promote ID | rollback`: the model registry from the command line.

Promoting or rolling back changes what every bot process and `foodbot worker` serves within
MODEL_CHECK_SECONDS, without a restart (`model.serving_watch`). The database is migrated first, so the
commands work on a fresh install too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.settings import Settings

if TYPE_CHECKING:  # the database and the model load only for a registry command: `foodbot --help` stays fast
    from meallog.store.registry import BundleRecord, RegistryStore

T = TypeVar("T")
SUBCOMMANDS = frozenset({"list", "register", "promote", "rollback"})


def add_subcommands(model_sub: Any) -> None:
    """The registry's subcommands under `foodbot model`."""
    listing = model_sub.add_parser("list", help="the registered bundles, the serving one marked")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    register = model_sub.add_parser("register", help="add a bundle directory to the registry as a candidate")
    register.add_argument("bundle", type=Path, metavar="DIR")
    promote = model_sub.add_parser("promote", help="serve this bundle (every process switches to it)")
    promote.add_argument("bundle_id", metavar="ID")
    model_sub.add_parser(
        "rollback", help="serve the serving bundle's parent again (what it was built from or registered over)"
    )


async def with_registry(settings: Settings, work: Callable[[RegistryStore], Awaitable[T]]) -> T:
    """Run `work` against the registry of the configured database (migrated first)."""
    from meallog.db.engine import make_engine, make_sessionmaker
    from meallog.migrate import upgrade_database
    from meallog.store.registry import RegistryStore

    await asyncio.to_thread(upgrade_database, settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        return await work(RegistryStore(make_sessionmaker(engine)))
    finally:
        await engine.dispose()


async def ensure_registered_serving(registry: RegistryStore, settings: Settings) -> BundleRecord:
    """The serving bundle; on a registry still empty, the configured one (the default bundle), registered
    as serving, so that what people were served is the parent of the first candidate and rollback has a
    place to go back to."""
    from bot.model_setup import settings_bundle

    serving = await registry.serving()
    if serving is not None:
        return serving
    bundle = await asyncio.to_thread(settings_bundle, settings, lambda line: print(line, file=sys.stderr))
    return await registry.register(
        bundle.path, parent_id=None, state="serving", data={"source": "configured"}
    )


def switch_note(settings: Settings) -> str:
    """When the serving processes take a promoted bundle, as the commands say it."""
    if settings.model_check_seconds <= 0:
        return "MODEL_CHECK_SECONDS=0, so each bot and worker serves it from its next start"
    return f"every bot and worker serves it within {settings.model_check_seconds:g} s, no restart"


def record_json(record: BundleRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "parent": record.parent_id,
        "state": record.state,
        "arch": record.arch,
        "created_at": record.created_at.isoformat(),
        "promoted_at": record.promoted_at.isoformat() if record.promoted_at else None,
        "data": record.data,
        "decision": record.metrics.get("decision"),
    }


def _line(record: BundleRecord) -> str:
    mark = "▶" if record.state == "serving" else " "
    seen = record.data.get("examples")
    saw = f" · {seen} examples, {record.data.get('new_foods', 0)} new foods" if seen is not None else ""
    decision = record.metrics.get("decision")
    verdict = f" · gate: {decision}" if decision else ""
    return f"{mark} {record.id:<40} {record.state:<9} {record.created_at:%Y-%m-%d %H:%M}{saw}{verdict}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one registry subcommand; 1 with a message when it cannot be done."""
    from meallog.store.registry import RegistryError

    try:
        return asyncio.run(with_registry(settings, lambda registry: _run(args, settings, registry)))
    except RegistryError as exc:
        print(str(exc), file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings, registry: RegistryStore) -> int:
    if args.model_command == "list":
        records = await registry.records()
        if args.json:
            print(json.dumps([record_json(r) for r in records], indent=2))
        elif not records:
            print("The registry is empty: the configured bundle serves. `foodbot retrain` starts it.")
        else:
            print("\n".join(_line(r) for r in records))
        return 0
    if args.model_command == "register":
        if not (args.bundle / "bundle.json").is_file():
            print(f"{args.bundle} is not a model bundle (no bundle.json)", file=sys.stderr)
            return 1
        parent = await ensure_registered_serving(registry, settings)
        record = await registry.register(args.bundle, parent_id=parent.id, data={"source": str(args.bundle)})
        print(f"registered {record.id} ({record.state}); serve it with `foodbot model promote {record.id}`")
        return 0
    if args.model_command == "promote":
        record = await registry.promote(args.bundle_id)
        print(f"promoted {record.id}: {switch_note(settings)}")
        return 0
    record = await registry.rollback()
    print(f"rolled back: {record.id} serves again; {switch_note(settings)}")
    return 0
