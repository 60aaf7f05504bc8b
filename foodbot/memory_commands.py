"""The memory subcommands of `foodbot`: teach and evaluate-memory (and `predict --user`'s ranking).

foodbot teach PHOTO FOOD --user ID [--json]     teach a person's memory that a photo shows a food
foodbot evaluate-memory DIR [--shots 1 3]       how well memory names later photos of taught foods

`teach` goes through the same code as a saved photo meal: the configured model embeds the photo, the
example is stored in the meal log's database (`DATABASE_URL`, migrated first) with source "taught".
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.settings import Settings
from meallog.nutrition import Food, NutritionTable, default_table

COMMANDS = frozenset({"teach", "evaluate-memory"})
#: Photo files `evaluate-memory` reads.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})


def add_commands(sub: Any) -> None:
    """Add teach and evaluate-memory to `foodbot`'s subparsers."""
    teach = sub.add_parser(
        "teach",
        help="teach a person's memory that a photo shows a food",
        description="Embed PHOTO with the served model and store it in USER's memory as FOOD, as if "
        "they had fixed it on the photo's card. FOOD is a food key or a food's name.",
    )
    teach.add_argument("photo", type=Path, metavar="PHOTO")
    teach.add_argument("food", metavar="FOOD")
    teach.add_argument("--user", type=int, required=True, metavar="ID", help="the person's Telegram id")
    teach.add_argument("--json", action="store_true", help='print {"key": …, "name": …}')
    evaluate = sub.add_parser(
        "evaluate-memory",
        help="how well memory names later photos of taught foods",
        description="DIR/<food>/<photos>, and DIR/no_food/ for photos without food: teaches k photos per "
        "food, recognizes the rest with and without memory, and prints right answers out of how many. "
        "Exits 1 when memory costs known foods or no-food photos more than one photo in 50.",
    )
    evaluate.add_argument("data", type=Path, metavar="DIR")
    evaluate.add_argument("--shots", type=int, nargs="+", default=[1, 3], metavar="K", help="(1 3)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one of the memory commands; returns the exit status."""
    if args.command == "teach":
        return teach(args.photo, args.food, args.user, args.json, settings)
    if args.command == "evaluate-memory":
        return evaluate_memory(args.data, args.shots, args.json, settings)
    return 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def resolve_food(table: NutritionTable, text: str) -> tuple[Food | None, list[Food]]:
    """The food `text` names (a key, or a name or alias the bot's search matches exactly), else the
    closest suggestions."""
    food = table.get(text.strip()) or table.exact(text)
    if food is not None:
        return food, []
    return None, table.search(text, limit=5) or table.closest(text, limit=3)


def teach(photo: Path, food_text: str, user_id: int, as_json: bool, settings: Settings) -> int:
    """`foodbot teach`: 0 when taught; 1 for an unknown food or an unreadable photo."""
    table = default_table()
    food, suggestions = resolve_food(table, food_text)
    if food is None:
        hint = (
            "; did you mean " + ", ".join(f"{f.name} ({f.key})" for f in suggestions) if suggestions else ""
        )
        return _fail(f"no food called {food_text!r}{hint}")
    if user_id <= 0:
        return _fail("--user must be a Telegram user id (a whole number above 0)")
    try:
        data = photo.read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {photo}: {exc.strerror or exc}")
    from bot.model_setup import make_recognizer  # the model: only when a command runs

    recognizer = make_recognizer(settings, table, progress=lambda line: print(line, file=sys.stderr))
    recognition = recognizer.predict([data])[0]
    if recognition.error:
        return _fail(f"{photo}: {recognition.error}")
    if not recognition.embedding:
        return _fail(f"the model {recognition.bundle_id} gives no embeddings (re-export its ONNX file)")
    digest = hashlib.sha256(data).hexdigest()[:32]
    asyncio.run(_store(settings, user_id, food.key, recognition.embedding, recognition.bundle_id, digest))
    if as_json:
        print(json.dumps({"key": food.key, "name": food.name}, ensure_ascii=False))
    else:
        print(f"Taught {food.name} ({food.key}) to user {user_id}'s memory.")
    return 0


async def _store(
    settings: Settings, user_id: int, key: str, embedding: bytes, bundle_id: str, digest: str
) -> None:
    from meallog.db.engine import make_engine, make_sessionmaker
    from meallog.migrate import upgrade_database
    from meallog.store.memory import MemoryStore

    await asyncio.to_thread(upgrade_database, settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        await MemoryStore(make_sessionmaker(engine)).teach(
            user_id, key, embedding, bundle_id, source="taught", photo_unique_id=f"file:{digest}"
        )
    finally:
        await engine.dispose()


def _folder_photos(data: Path) -> list[tuple[str, Path]]:
    return [
        (folder.name, path)
        for folder in sorted(p for p in data.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]


def evaluate_memory(data: Path, shots: Sequence[int], as_json: bool, settings: Settings) -> int:
    """`foodbot evaluate-memory`: 0 when memory broke nothing beyond the tolerance, 1 otherwise."""
    from bot.model_setup import configured_bundle, make_recognizer
    from meallog.memory.evaluation import NO_FOOD, Photo, evaluate, report_text

    if not data.is_dir():
        return _fail(f"{data} is not a folder of food folders")
    if any(k < 1 for k in shots):
        return _fail("--shots must be at least 1")
    files = _folder_photos(data)
    if not files:
        return _fail(f"{data} has no photos in <food>/ folders")
    table = default_table()
    progress = lambda line: print(line, file=sys.stderr)  # noqa: E731
    recognizer = make_recognizer(settings, table, progress=progress)
    known = {key for key in configured_bundle(settings, progress).meta.label_foods.values() if key}
    photos: list[Photo] = []
    for start in range(0, len(files), 16):
        chunk = files[start : start + 16]
        answers = recognizer.predict([path.read_bytes() for _, path in chunk])
        photos += [Photo(food, path.name, rec) for (food, path), rec in zip(chunk, answers, strict=True)]
    reports = [evaluate(photos, k, known, table.name_of) for k in shots]
    foods: dict[str, int] = {}
    for photo in photos:
        if photo.food != NO_FOOD:
            foods[photo.food] = foods.get(photo.food, 0) + 1
    if as_json:
        print(
            json.dumps(
                {"photos": len(photos), "foods": foods, "shots": [r.json() for r in reports]}, indent=2
            )
        )
    else:
        print(report_text(reports, len(photos), foods))
    return 0 if all(r.passed for r in reports) else 1
