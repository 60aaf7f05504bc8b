"""`foodbot predict IMAGE... [--json] [--top N]`: recognize photos from the command line.

Each file is answered on its own: a missing or unreadable file gets a clear error line while the others
still get their foods; the exit status is 1 only when some file failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from bot.model_setup import make_recognizer
from bot.settings import Settings
from meallog.meal_estimate import MealEstimate, estimate_meal
from meallog.nutrition import NutritionTable, default_table
from meallog.portions import Macros, macros_line
from model.recognition import Recognition

#: Photos per forward pass; bounds memory when many files are given.
BATCH = 16


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's outcome: an estimate, or an error sentence."""

    file: str
    estimate: MealEstimate | None
    error: str | None


def _read(path: str) -> bytes | str:
    """The file's bytes, or an error sentence a person understands."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory, not a photo"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"


def predict_files(
    paths: list[str], settings: Settings, table: NutritionTable, top: int, user_id: int | None = None
) -> list[FileResult]:
    """Recognize the given files in batches; results come back in the order of `paths`.

    With `user_id`, each answer is ranked with that person's memory of corrections, as the bot ranks
    their photos (the shared memory included, per the settings).
    """
    loaded = [(p, _read(p)) for p in paths]
    readable = [(p, data) for p, data in loaded if isinstance(data, bytes)]
    recognitions: dict[int, Recognition] = {}
    if readable:
        progress = lambda line: print(line, file=sys.stderr)  # noqa: E731
        recognizer = make_recognizer(settings, table, progress=progress, top_k=top)
        for start in range(0, len(readable), BATCH):
            chunk = readable[start : start + BATCH]
            for offset, rec in enumerate(recognizer.predict([data for _, data in chunk])):
                recognitions[start + offset] = rec
        if user_id is not None:
            recognitions = asyncio.run(_with_memory(settings, table, user_id, recognitions, top))
    results: list[FileResult] = []
    index = 0
    for path, data in loaded:
        if isinstance(data, str):
            results.append(FileResult(path, None, data))
            continue
        rec = recognitions[index]
        index += 1
        if rec.error:
            results.append(FileResult(path, None, rec.error))
        else:
            results.append(FileResult(path, estimate_meal(rec, table), None))
    return results


async def _with_memory(
    settings: Settings, table: NutritionTable, user_id: int, recognitions: dict[int, Recognition], top: int
) -> dict[int, Recognition]:
    from meallog.db.engine import make_engine, make_sessionmaker
    from meallog.memory.recall import Recall
    from meallog.migrate import upgrade_database
    from meallog.store.memory import MemoryStore

    await asyncio.to_thread(upgrade_database, settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        recall = Recall(
            MemoryStore(make_sessionmaker(engine)),
            table.name_of,
            known=table.__contains__,
            shared=settings.memory_shared,
            min_people=settings.memory_shared_min_people,
        )
        ranked = {n: await recall.rank(user_id, rec) for n, rec in recognitions.items()}
    finally:
        await engine.dispose()
    return {n: replace(rec, foods=rec.foods[:top]) for n, rec in ranked.items()}


def _macros_json(m: Macros) -> dict[str, float]:
    return {
        "kcal": round(m.kcal, 1),
        "protein_g": round(m.protein_g, 1),
        "fat_g": round(m.fat_g, 1),
        "carbs_g": round(m.carbs_g, 1),
    }


def result_json(result: FileResult) -> dict[str, Any]:
    """The `--json` object for one file (schema in the README)."""
    est = result.estimate
    foods = []
    for food in est.foods if est else ():
        foods.append(
            {
                "key": food.key,
                "name": food.name,
                "confidence": round(food.confidence, 4),
                "present": food.present,
                "grams": food.grams,
                **(
                    _macros_json(food.macros)
                    if food.macros
                    else dict.fromkeys(("kcal", "protein_g", "fat_g", "carbs_g"))
                ),
            }
        )
    return {
        "file": result.file,
        "foods": foods,
        "total": _macros_json(est.total) if est else None,
        "no_food": est.no_food if est else False,
        "error": result.error,
    }


def _macros_text(m: Macros) -> str:
    """The bot's macros line with a decimal on the grams: a terminal reader compares foods closely."""
    return macros_line(m, decimals=1)


def write_text(results: list[FileResult], out: TextIO) -> None:
    """Human-readable output: per file the ranked foods with portions, then the meal total."""
    for result in results:
        print(result.file, file=out)
        est = result.estimate
        if est is None:
            print(f"  error: {result.error}", file=out)
        elif est.no_food:
            print("  no food found", file=out)
        else:
            for food in est.foods:
                mark = "*" if food.present else " "
                portion = (
                    f"{food.portion_name}, {food.grams:g} g" if food.portion_name else f"{food.grams:g} g"
                )
                macros = _macros_text(food.macros) if food.macros else "not in the nutrition table"
                print(f" {mark} {food.name:<24} {food.confidence:6.1%}  {portion:<28} {macros}", file=out)
            print(f"  meal (* foods): {_macros_text(est.total)}", file=out)


def run_predict(
    paths: list[str], as_json: bool, top: int, settings: Settings, out: TextIO, user_id: int | None = None
) -> int:
    """The command: 0 when every file was read, 1 when any failed."""
    table = default_table()
    if user_id is not None:  # a person's memory may hold foods of the index of all foods
        from meallog.food_index import open_food_index

        table = NutritionTable.load()
        table.attach_index(open_food_index(settings.foods_index_path))
    results = predict_files(paths, settings, table, top, user_id)
    if as_json:
        json.dump([result_json(r) for r in results], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        write_text(results, out)
    return 1 if any(r.error for r in results) else 0
