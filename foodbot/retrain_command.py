"""`foodbot retrain`: from what people taught, a candidate bundle, its gate, and (when it passes) promotion.

One run (`retrain_once`):

1. the serving bundle (the configured one is registered as serving on the first run) and every
   example people taught under its embeddings (`MemoryStore.every_example`: /forget took the rest);
2. the training set (`training.head_retrain.choose_training_set`): foods taught by at least
   MEMORY_SHARED_MIN_PEOPLE people, never a person's own `my_` food, at most RETRAIN_PER_PERSON examples
   per person and food; nothing new to learn ends the run here;
3. a candidate, saved with its ONNX export and registered, of one of two strengths (RETRAIN_STRENGTH,
   `--strength`):
   * **head**: a head-only retrain on the stored embeddings (seconds on a CPU, no photo needed);
   * **full**: the whole network fine-tuned (`training.full_retrain`) on the taught photos, fetched
     again from Telegram by file id into a folder deleted when the run ends, a share of each food's
     photos held out for the gate;
4. the gate: for head, cross-validation over the taught examples (`training.gate`); for full, the
   held-out photos (`training.held_out_gate`); for both, the regression photos. Its JSON report is kept
   in the registry and in DATA_DIR/models/reports/;
5. a full candidate that passed gets the whole memory embedded by itself (every example with a photo
   Telegram still has), so it serves with memory from its first photo; a head-only one shares its
   parent's embeddings, carried over by the promotion;
6. promotion when the gate says so (`--promote never` only registers; `foodbot model promote` then).

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
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings
from foodbot.model_commands import ensure_registered_serving, switch_note, with_registry

if TYPE_CHECKING:  # the database and torch load only when a retrain runs: `foodbot --help` stays fast
    from meallog.store.memory import ExampleView, MemoryStore
    from meallog.store.registry import BundleRecord, RegistryStore
    from training.corrections import TelegramPhotos

_LOGGER = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: Photos the feature scale of the configured bundle is measured on (the median norm settles fast).
SCALE_PHOTOS = 24
#: The share of each food's taught photos a full retrain holds out of its training for its gate.
HELD_OUT_SHARE = 0.2
#: A full retrain's photo folder under DATA_DIR/models, and the age at which one left by a killed run
#: is removed by the next run.
PHOTOS_PREFIX = "retrain-photos-"
STALE_PHOTOS_S = 24 * 3600
#: The share of the memory's photos that may fail to download (not "gone": a network error) before
#: promoting a full candidate, which would serve with that much of its memory missing until the bot's
#: background job catches up (20 photos a minute), waits for a person's `foodbot model promote`.
EMBED_FAILURES_ALLOWED = 0.02


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class RetrainError(RuntimeError):
    """The retrain cannot run as configured (the message says what to set)."""


def resolve_strength(choice: str, settings: Settings) -> str:
    """`head` or `full` for RETRAIN_STRENGTH / `--strength`: `auto` is full where DEVICE finds a GPU and a
    bot token lets the run fetch the taught photos again, else head."""
    if choice != "auto":
        return choice
    from model.device import DeviceUnavailable, device_name

    try:
        gpu = device_name(settings.device).startswith("cuda")
    except DeviceUnavailable:
        gpu = False
    return "full" if gpu and settings.telegram_bot_token is not None else "head"


async def retrain_once(
    registry: RegistryStore,
    settings: Settings,
    *,
    promote: bool = True,
    min_new: int = 0,
    strength: str | None = None,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    """One retrain (module docstring); returns its summary (also what the log and `--json` show).

    `strength` is head, full or auto (None: RETRAIN_STRENGTH).
    """
    from meallog.store.memory import MemoryStore
    from model.bundle import load_bundle
    from model.recognition import decode_embedding
    from training.head_retrain import TaughtExample, chosen_indices, new_foods

    if not settings.memory_shared:
        progress("retrain: MEMORY_SHARED is off, so nobody's examples become everyone's classes")
        return {"outcome": "MEMORY_SHARED is off"}
    strength = resolve_strength(strength or settings.retrain_strength, settings)
    await asyncio.to_thread(_remove_stale_photos, settings.data_dir / "models")
    serving = await ensure_registered_serving(registry, settings)
    memory = MemoryStore(registry.sessions)
    # The serving bundle holds all of its memory: promotion carries its parent's examples over.
    rows = await memory.every_example(serving.id)
    seen = int(serving.data.get("examples_available", 0))
    summary: dict[str, Any] = {
        "serving": serving.id,
        "strength": strength,
        "examples": len(rows),
        "new_since_serving": len(rows) - seen,
    }
    if len(rows) - seen < min_new:
        new_count = len(rows) - seen
        progress(f"retrain: {new_count} new examples since {serving.id}, fewer than {min_new}; nothing to do")
        return {**summary, "outcome": "not enough new examples"}
    examples = [TaughtExample(row.user_id, row.food_key, decode_embedding(row.embedding)) for row in rows]
    picked = chosen_indices(examples, settings.memory_shared_min_people, settings.retrain_per_person)
    chosen = [examples[i] for i in picked]
    bundle = await asyncio.to_thread(load_bundle, await registry.fetch(serving.id, settings.bundle_cache_dir))
    new = new_foods(bundle.meta, chosen)
    people = len({row.user_id for row in chosen})
    summary.update(chosen=len(chosen), people=people, new_foods=new)
    progress(
        f"retrain ({strength}): {len(rows)} examples under {serving.id}; {len(chosen)} from {people} people "
        f"usable, {len(new)} foods taught by at least {settings.memory_shared_min_people} people to learn"
    )
    run = _Run(registry, settings, memory, serving.id, bundle, summary, promote, progress)
    if strength == "full":
        if not chosen:
            return {**summary, "outcome": "no food taught by enough people to learn from"}
        return await run.full(rows, [rows[i] for i in picked], new)
    if not new:
        return {**summary, "outcome": "no food taught by enough people to become a class"}
    candidate_dir = _candidate_dir(settings)
    photos = settings.retrain_photos
    candidate = await asyncio.to_thread(_train, bundle, chosen, new, candidate_dir, photos, progress)
    data = {
        "kind": "head-only retrain",
        "examples": len(chosen),
        "examples_available": len(rows),
        "people": people,
        "new_foods": len(new),
        "foods": new,
    }
    record = await run.register(candidate, data)
    if record is None:
        return summary
    report = await asyncio.to_thread(_gate, bundle, candidate, chosen, settings)
    return await run.judge(record.id, candidate.path, report)


def _candidate_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / "candidates" / datetime.now().strftime("%Y%m%d-%H%M%S")


class _Run:
    """What one retrain's two strengths share: registering the candidate, the gate's verdict, promotion."""

    def __init__(
        self,
        registry: RegistryStore,
        settings: Settings,
        memory: MemoryStore,
        serving_id: str,
        bundle: Any,
        summary: dict[str, Any],
        promote: bool,
        progress: Progress,
    ) -> None:
        self.registry, self.settings, self.memory = registry, settings, memory
        self.serving_id, self.bundle, self.summary = serving_id, bundle, summary
        self.promote, self.progress = promote, progress

    async def register(self, candidate: Any, data: dict[str, Any]) -> BundleRecord | None:
        """Register the saved candidate; None (and the summary's outcome set) when an earlier run made
        the very same bundle and it was refused or rolled back: it is not gated or served again."""
        before = await self.registry.get(candidate.id)
        if before is not None and before.state in ("retired", "refused"):  # the same data as a run before
            shutil.rmtree(candidate.path, ignore_errors=True)
            self.progress(
                f"retrain: {candidate.id} is the candidate of an earlier run ({before.state}); nothing new"
            )
            self.summary.update(
                candidate=candidate.id, outcome=f"same as an earlier candidate ({before.state})"
            )
            return None
        record = await self.registry.register(candidate.path, parent_id=self.serving_id, data=data)
        self.progress(
            f"retrain: candidate {record.id} registered; the gate measures it against {self.serving_id}"
        )
        return record

    async def judge(
        self,
        candidate_id: str,
        candidate_path: Path,
        report: dict[str, Any],
        before_promotion: Callable[[], Awaitable[tuple[dict[str, Any], str | None]]] | None = None,
    ) -> dict[str, Any]:
        """Record the gate's report; a passed candidate gets `before_promotion` (while its files are
        still on disk), then is promoted unless `--promote never` or `before_promotion` gives a reason
        to wait (its second value); a refused one loses its files."""
        for reason in report["reasons"]:
            self.progress(f"gate: {reason}")
        passed = bool(report["promote"])
        await self.registry.set_outcome(candidate_id, "candidate" if passed else "refused", report)
        reports = self.settings.data_dir / "models" / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        (reports / f"{candidate_id}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        summary = self.summary
        summary.update(candidate=candidate_id, gate="promote" if passed else "refuse")
        hold: str | None = None
        try:
            if passed and before_promotion is not None:
                fields, hold = await before_promotion()
                summary.update(fields)
        finally:
            # The registry holds the candidate's files now (every process fetches from there): no second
            # copy on disk, and none at all of a refused one.
            await asyncio.to_thread(shutil.rmtree, candidate_path, True)
        if not passed:
            await self.registry.drop_files(candidate_id)
            return {**summary, "outcome": "refused by the gate"}
        if hold is not None:
            self.progress(f"retrain: {candidate_id} passed the gate but is not promoted: {hold}")
            return {**summary, "outcome": f"passed the gate, not promoted: {hold}"}
        if self.promote:
            await self.registry.promote(candidate_id)
            self.progress(f"retrain: {candidate_id} promoted; {switch_note(self.settings)}")
            return {**summary, "outcome": "promoted"}
        return {**summary, "outcome": "passed the gate; `foodbot model promote` serves it"}

    async def full(
        self, rows: list[ExampleView], chosen: list[ExampleView], new: list[str]
    ) -> dict[str, Any]:
        """The full strength: fetch the chosen examples' photos by file id, fine-tune on all but the
        held-out ones, gate on those and the regression photos, and before promoting embed the whole
        memory with the candidate (its embeddings are its own)."""
        from telegram.error import TelegramError

        from training.corrections import TelegramPhotos

        settings = self.settings
        if settings.telegram_bot_token is None:
            raise RetrainError(
                "a full retrain fetches the taught photos from Telegram by file id: set TELEGRAM_BOT_TOKEN"
            )
        token = settings.telegram_bot_token.get_secret_value()
        scratch = settings.data_dir / "models"
        # People's photos live only as long as the run (the bot keeps none).
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=PHOTOS_PREFIX, dir=scratch))
        try:
            async with TelegramPhotos(token, settings.telegram_api_base_url) as telegram:
                return await self._full_fetching(rows, chosen, new, telegram, folder)
        except TelegramError as exc:  # the token refused, Telegram away: nothing was trained or marked
            raise RetrainError(f"Telegram could not be asked for the taught photos: {exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _full_fetching(
        self,
        rows: list[ExampleView],
        chosen: list[ExampleView],
        new: list[str],
        telegram: TelegramPhotos,
        folder: Path,
    ) -> dict[str, Any]:
        from model.recognition import decode_embedding
        from training.full_retrain import TaughtPhoto, split_held_out
        from training.taught_photos import FetchedPhotos, fetch_photos, photo_key, telegram_fetch

        summary, progress = self.summary, self.progress
        fetch = telegram_fetch(telegram)
        fetched = await fetch_photos(chosen, fetch, FetchedPhotos(folder))
        summary["photos"] = fetched.counts()
        if not fetched.paths and (fetched.gone or fetched.failed):
            # Every file id refused or every download failed: a token of another bot, or Telegram away.
            # Nothing is marked gone on such evidence.
            raise RetrainError(
                f"Telegram gave none of the {len(chosen)} taught photos ({len(fetched.gone)} refused, "
                f"{fetched.failed} failed): check that TELEGRAM_BOT_TOKEN is the token of the bot people "
                "sent them to, and that Telegram can be reached"
            )
        await self._forget_gone(rows, fetched.gone)
        have = [(row, path) for row in chosen if (path := fetched.path_of(row)) is not None]
        progress(f"retrain: {len(have)} of {len(chosen)} taught photos fetched again ({fetched.counts()})")
        foods = [row.food_key for row, _ in have]
        keys = [str(photo_key(row)) for row, _ in have]
        held = split_held_out(foods, HELD_OUT_SHARE, seed=len(rows), photos=keys) if foods else []
        if not any(held):
            return {
                **summary,
                "outcome": "no food has two fetched photos, so none can be held out to measure a full "
                "retrain; a head-only retrain (--strength head) measures such foods",
            }
        train = [
            TaughtPhoto(row.food_key, path, decode_embedding(row.embedding))
            for (row, path), out in zip(have, held, strict=True)
            if not out
        ]
        learned = [food for food in new if any(photo.food_key == food for photo in train)]
        summary.update(new_foods=learned, trained_photos=len(train), held_out=sum(held))
        candidate = await asyncio.to_thread(
            _train_full, self.bundle, train, learned, _candidate_dir(self.settings), self.settings, progress
        )
        data = {
            "kind": "full fine-tune",
            "examples": len(train),
            "held_out": sum(held),
            "examples_available": len(rows),
            "people": len({row.user_id for row, _ in have}),
            "new_foods": len(learned),
            "foods": learned,
            "photos": summary["photos"],
            "images_per_s": candidate.stats["images_per_s"],
            "device": candidate.stats["device"],
        }
        record = await self.register(candidate.bundle, data)
        if record is None:
            return summary
        report = await asyncio.to_thread(
            _gate_full, self.bundle, candidate.bundle, [p for _, p in have], foods, held, self.settings
        )

        async def embed_memory() -> tuple[dict[str, Any], str | None]:
            """Every example under the serving bundle now (read again: the run took a while), embedded by
            the candidate from its photo fetched again; a reason to wait when too many could not be."""
            current = await self.memory.every_example(self.serving_id)
            failed_before = fetched.failed
            await fetch_photos(current, fetch, fetched)
            await self._forget_gone(current, fetched.gone)
            with_photo = [(row, path) for row in current if (path := fetched.path_of(row)) is not None]
            embedded = await asyncio.to_thread(_embed, candidate.bundle, with_photo, self.settings.device)
            added = await self.memory.add_embedded(embedded, record.id)
            rows_now, _newest = await self.memory.stamp(record.id)
            await self.registry.update_data(record.id, examples_available=rows_now)
            missing = len(current) - len(with_photo)
            self.progress(
                f"retrain: memory embedded by {record.id}: {added} of {len(current)} examples; {missing} "
                "without a photo Telegram gave (the bot embeds those it can get later in the background)"
            )
            failed = fetched.failed - failed_before
            hold = None
            if failed > EMBED_FAILURES_ALLOWED * max(1, len(current)):
                hold = (
                    f"{failed} photos for its memory could not be fetched; `foodbot model promote "
                    f"{record.id}` serves it anyway (the bot embeds them later)"
                )
            return {"memory_embedded": added, "memory_not_embedded": missing}, hold

        return await self.judge(record.id, candidate.bundle.path, report, embed_memory)

    async def _forget_gone(self, rows: list[ExampleView], gone: list[str]) -> None:
        """Photos Telegram no longer has: every example of them stops asking for them."""
        from training.taught_photos import photo_key

        gone_keys = set(gone)
        for row in rows:
            if row.photo_file_id is not None and photo_key(row) in gone_keys:
                await self.memory.forget_photo_file(row)


def _remove_stale_photos(scratch: Path) -> None:
    """Photo folders a killed run left behind (a clean or failed run removes its own): older than
    `STALE_PHOTOS_S`, so a run still going is never touched. Every run does this first, whatever its
    strength and whether it trains at all. Also makes the folder."""
    scratch.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for folder in scratch.glob(f"{PHOTOS_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - folder.stat().st_mtime > STALE_PHOTOS_S:
                shutil.rmtree(folder, ignore_errors=True)


def _train(
    bundle: Any, chosen: list[Any], new: list[str], target: Path, photos: Path, progress: Progress
) -> Any:
    """The head-only retrain and its saved bundle (in a thread: torch work)."""
    from training.head_retrain import retrain_head

    candidate = retrain_head(bundle, [(e.food_key, e.embedding) for e in chosen], new, _scale(bundle, photos))
    progress(
        f"retrain: {len(new)} new classes trained on {len(chosen)} examples in "
        f"{candidate.stats.get('seconds', 0):.1f} s; exporting"
    )
    return candidate.save(target)


def _scale(bundle: Any, photos: Path) -> float:
    """The serving model's feature scale: recorded by a head-only bundle, else measured on real photos."""
    from training.gate import regression_files
    from training.head_retrain import feature_scale, scale_of

    scale = scale_of(bundle)
    if scale is None:  # measured once on real photos, then recorded in each head-only child
        files = [path for _food, path in regression_files(photos)][:SCALE_PHOTOS]
        scale = feature_scale(bundle, [path.read_bytes() for path in files])
    return scale


def _train_full(
    bundle: Any, train: list[Any], new: list[str], target: Path, settings: Settings, progress: Progress
) -> Any:
    """The full retrain and its saved bundle (in a thread: torch work)."""
    from training.full_retrain import retrain_full

    scale = _scale(bundle, settings.retrain_photos)
    return retrain_full(bundle, train, new, scale, target, device=settings.device, progress=progress)


def _gate_full(
    bundle: Any, candidate: Any, photos: list[Path], foods: list[str], held: list[bool], settings: Settings
) -> dict[str, Any]:
    from training.held_out_gate import gate_held_out

    report = gate_held_out(bundle, candidate, photos, foods, held, settings.retrain_photos)
    result: dict[str, Any] = json.loads(report.to_json())
    return result


def _embed(bundle: Any, with_photo: list[tuple[Any, Path]], device: str) -> list[tuple[Any, bytes]]:
    """Each example's embedding by `bundle`, one forward pass per photo however many foods it taught."""
    from model.recognizer import Recognizer

    recognizer = Recognizer(bundle, device=device)
    by_path: dict[Path, bytes] = {}
    paths = list(dict.fromkeys(path for _, path in with_photo))
    for start in range(0, len(paths), 32):
        batch = paths[start : start + 32]
        for path, answer in zip(batch, recognizer.predict([p.read_bytes() for p in batch]), strict=True):
            if answer.error is None and answer.embedding:
                by_path[path] = answer.embedding
    return [(row, by_path[path]) for row, path in with_photo if path in by_path]


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
        "--strength",
        choices=["auto", "head", "full"],
        default=None,
        help="head: head-only on stored embeddings; full: fine-tune on the photos fetched again by file id; "
        "auto: full where there is a GPU and a bot token (default: RETRAIN_STRENGTH)",
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
                settings,
                lambda registry: retrain_once(
                    registry, settings, promote=args.promote == "auto", strength=args.strength
                ),
            )
        )
    except (GateError, HeadRetrainError, RetrainError, OSError) as exc:
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
