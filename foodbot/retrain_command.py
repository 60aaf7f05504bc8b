"""`foodbot retrain`: from what people taught, a candidate bundle, its gate, and (when it passes) promotion.

One run (`retrain_once`):

1. the serving bundle (the configured one is registered as serving on the first run) and every
   example people taught under its embeddings (`MemoryStore.every_example`: /forget took the rest);
2. the training set (`training.head_retrain.choose_training_set`): foods taught by at least
   MEMORY_SHARED_MIN_PEOPLE people, never a person's own `my_` food, at most RETRAIN_PER_PERSON examples
   per person and food; nothing new to learn ends the run here;
3. a head-only retrain (seconds on a CPU), saved with its ONNX export and registered as a candidate;
4. the gate (`training.gate`): cross-validation over the taught examples and the regression photos;
   its JSON report is kept in the registry and in DATA_DIR/models/reports/;
5. promotion when the gate says so (`--promote never` only registers; `foodbot model promote` then).

`--watch` (and every `foodbot worker` that reaches the database) runs it nightly at RETRAIN_HOUR, claimed
in the database by exactly one process, when RETRAIN_MIN_EXAMPLES examples arrived since the serving
bundle was made. A webhook replica never does: it holds no torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings
from foodbot.model_commands import ensure_registered_serving, switch_note, with_registry

if TYPE_CHECKING:  # the database and torch load only when a retrain runs: `foodbot --help` stays fast
    from meallog.store.registry import RegistryStore

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: Photos the feature scale of the configured bundle is measured on (the median norm settles fast).
SCALE_PHOTOS = 24


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def retrain_once(
    registry: RegistryStore,
    settings: Settings,
    *,
    promote: bool = True,
    min_new: int = 0,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    """One retrain (module docstring); returns its summary (also what the log and `--json` show)."""
    from meallog.store.memory import MemoryStore
    from model.bundle import load_bundle
    from model.recognition import decode_embedding
    from training.head_retrain import TaughtExample, choose_training_set, new_foods

    if not settings.memory_shared:
        progress("retrain: MEMORY_SHARED is off, so nobody's examples become everyone's classes")
        return {"outcome": "MEMORY_SHARED is off"}
    serving = await ensure_registered_serving(registry, settings)
    memory = MemoryStore(registry.sessions)
    # The serving bundle holds all of its memory: promotion carries its parent's examples over.
    rows = await memory.every_example(serving.id)
    seen = int(serving.data.get("examples_available", 0))
    summary: dict[str, Any] = {
        "serving": serving.id,
        "examples": len(rows),
        "new_since_serving": len(rows) - seen,
    }
    if len(rows) - seen < min_new:
        new_count = len(rows) - seen
        progress(f"retrain: {new_count} new examples since {serving.id}, fewer than {min_new}; nothing to do")
        return {**summary, "outcome": "not enough new examples"}
    examples = [TaughtExample(row.user_id, row.food_key, decode_embedding(row.embedding)) for row in rows]
    chosen = choose_training_set(examples, settings.memory_shared_min_people, settings.retrain_per_person)
    bundle = await asyncio.to_thread(load_bundle, await registry.fetch(serving.id, settings.bundle_cache_dir))
    new = new_foods(bundle.meta, chosen)
    people = len({row.user_id for row in chosen})
    summary.update(chosen=len(chosen), people=people, new_foods=new)
    progress(
        f"retrain: {len(rows)} examples under {serving.id}; {len(chosen)} from {people} people usable, "
        f"{len(new)} foods taught by at least {settings.memory_shared_min_people} people to learn"
    )
    if not new:
        return {**summary, "outcome": "no food taught by enough people to become a class"}
    candidate_dir = settings.data_dir / "models" / "candidates" / datetime.now().strftime("%Y%m%d-%H%M%S")
    photos = settings.retrain_photos
    candidate = await asyncio.to_thread(_train, bundle, chosen, new, candidate_dir, photos, progress)
    before = await registry.get(candidate.id)
    if before is not None and before.state in ("retired", "refused"):  # the same data as a run before
        shutil.rmtree(candidate.path, ignore_errors=True)
        progress(f"retrain: {candidate.id} is the candidate of an earlier run ({before.state}); nothing new")
        return {
            **summary,
            "candidate": candidate.id,
            "outcome": f"same as an earlier candidate ({before.state})",
        }
    record = await registry.register(
        candidate.path,
        parent_id=serving.id,
        data={
            "kind": "head-only retrain",
            "examples": len(chosen),
            "examples_available": len(rows),
            "people": people,
            "new_foods": len(new),
            "foods": new,
        },
    )
    progress(f"retrain: candidate {record.id} registered; the gate measures it against {serving.id}")
    report = await asyncio.to_thread(_gate, bundle, candidate, chosen, settings)
    for reason in report["reasons"]:
        progress(f"gate: {reason}")
    passed = bool(report["promote"])
    await registry.set_outcome(record.id, "candidate" if passed else "refused", report)
    # The registry holds the candidate's files now (every process fetches from there): no second copy
    # on disk, and none at all of a refused one.
    shutil.rmtree(candidate.path, ignore_errors=True)
    if not passed:
        await registry.drop_files(record.id)
    reports = settings.data_dir / "models" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"{record.id}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary.update(candidate=record.id, gate="promote" if passed else "refuse")
    if passed and promote:
        await registry.promote(record.id)
        progress(f"retrain: {record.id} promoted; {switch_note(settings)}")
        return {**summary, "outcome": "promoted"}
    if passed:
        return {**summary, "outcome": "passed the gate; `foodbot model promote` serves it"}
    return {**summary, "outcome": "refused by the gate"}


def _train(
    bundle: Any, chosen: list[Any], new: list[str], target: Path, photos: Path, progress: Progress
) -> Any:
    """The head-only retrain and its saved bundle (in a thread: torch work)."""
    from training.gate import regression_files
    from training.head_retrain import feature_scale, retrain_head, scale_of

    scale = scale_of(bundle)
    if scale is None:  # the configured bundle: measured once on real photos, then recorded in each child
        files = [path for _food, path in regression_files(photos)][:SCALE_PHOTOS]
        scale = feature_scale(bundle, [path.read_bytes() for path in files])
    candidate = retrain_head(bundle, [(e.food_key, e.embedding) for e in chosen], new, scale)
    progress(
        f"retrain: {len(new)} new classes trained on {len(chosen)} examples in "
        f"{candidate.stats.get('seconds', 0):.1f} s; exporting"
    )
    return candidate.save(target)


def _gate(bundle: Any, candidate: Any, chosen: list[Any], settings: Settings) -> dict[str, Any]:
    from training.gate import gate

    report = gate(bundle, candidate, [(e.food_key, e.embedding) for e in chosen], settings.retrain_photos)
    result: dict[str, Any] = json.loads(report.to_json())
    return result


def due_key(now_local: datetime, hour: int | None) -> str | None:
    """The nightly run due at `now_local` (its key: the local date), or None before the hour or when off.

    Due from RETRAIN_HOUR to the end of the day, so a process that starts late still runs that day's;
    the claim in the database (`RegistryStore.claim_run`) makes it once.
    """
    if hour is None or now_local.hour < hour:
        return None
    return now_local.date().isoformat()


async def nightly(
    registry: RegistryStore,
    settings: Settings,
    stop: asyncio.Event,
    *,
    claimer: str = "",
    every_s: float = 60.0,
    now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
) -> None:
    """Run the nightly retrain when due and claimed by this process, until `stop` is set. Never raises:
    a failed run is logged and recorded with its claim, and the process goes on serving."""
    claimer = claimer or f"{socket.gethostname()}-{os.getpid()}"
    settled = ""  # the last key this process claimed or saw claimed: not asked again
    while not stop.is_set():
        key = due_key(now(), settings.retrain_hour)
        if key is not None and key != settled:
            settled = key
            try:
                claimed = await registry.claim_run(key, claimer)
            except Exception:  # the database away: try again at the next look
                _LOGGER.exception("could not claim the nightly retrain %s", key)
                claimed, settled = False, ""
            if claimed:
                await _run_claimed(registry, settings, key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


async def _run_claimed(registry: RegistryStore, settings: Settings, key: str) -> None:
    _LOGGER.warning("nightly retrain %s starts", key)
    try:
        outcome = await retrain_once(
            registry, settings, min_new=settings.retrain_min_examples, progress=_LOGGER.warning
        )
    except Exception as exc:
        _LOGGER.exception("nightly retrain %s failed", key)
        outcome = {"outcome": f"failed: {exc}"}
    try:
        await registry.finish_run(key, outcome)
    except Exception:  # the database away: the run is done all the same; only its record is missing
        _LOGGER.exception("could not record how the nightly retrain %s ended", key)
    _LOGGER.warning("nightly retrain %s: %s", key, outcome.get("outcome"))


def add_commands(sub: Any) -> None:
    """`foodbot retrain`."""
    retrain = sub.add_parser(
        "retrain", help="learn from what people taught: candidate, gate, promote (or --watch: nightly)"
    )
    retrain.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    retrain.add_argument(
        "--promote",
        choices=["auto", "never"],
        default="auto",
        help="auto: serve the candidate when the gate passes it (default); never: only register it",
    )
    retrain.add_argument(
        "--watch", action="store_true", help="stay running; retrain nightly at RETRAIN_HOUR when claimed"
    )


def run(args: Any, settings: Settings) -> int:
    """`foodbot retrain`: one run now (exit 1 when it could not run), or `--watch` until SIGINT/SIGTERM."""
    from training.gate import GateError
    from training.head_retrain import HeadRetrainError

    if args.watch:
        if settings.retrain_hour is None:
            print("RETRAIN_HOUR is empty, so there is nothing to watch for.", file=sys.stderr)
            return 2
        asyncio.run(with_registry(settings, lambda registry: _watch(registry, settings)))
        return 0
    try:
        summary = asyncio.run(
            with_registry(
                settings, lambda registry: retrain_once(registry, settings, promote=args.promote == "auto")
            )
        )
    except (GateError, HeadRetrainError, OSError) as exc:
        print(f"retrain: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2) if args.json else f"retrain: {summary['outcome']}")
    return 0


async def _watch(registry: RegistryStore, settings: Settings) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"retrain: watching; nightly at {settings.retrain_hour}:00 local time", file=sys.stderr, flush=True)
    await nightly(registry, settings, stop)
