"""`foodbot retrain` end to end on real photos: what people taught becomes a candidate, the gate decides,
and only foods several people taught become classes; /forget takes a person's examples out of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from foodbot.retrain_command import due_key, retrain_once
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.store.account import AccountStore
from meallog.store.memory import MemoryStore
from meallog.store.registry import RegistryStore
from model.bundle import ModelBundle
from model.recognizer import Recognizer
from training.head_retrain import known_foods

PHOTOS = Path(__file__).parents[2] / "bench" / "data" / "food_photos"
PEOPLE = (101, 102, 103)


def _settings(data_dir: Path, database_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "device": "cpu",
        "retrain_photos": PHOTOS,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[RegistryStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield RegistryStore(make_sessionmaker(engine))
    await engine.dispose()


def _new_foods(bundle: ModelBundle, at_least: int) -> list[str]:
    """Foods of the photo set the default model does not know, with `at_least` photos each."""
    known = known_foods(bundle.meta)
    return [
        folder.name
        for folder in sorted(PHOTOS.iterdir())
        if folder.is_dir()
        and folder.name not in known
        and folder.name != "no_food"
        and len(list(folder.glob("*.*"))) >= at_least
    ]


async def _teach(memory: MemoryStore, recognizer: Recognizer, food: str, people: tuple[int, ...]) -> None:
    """Each photo of the food taught by the next person, as saving a fixed card would."""
    photos = sorted(path for path in (PHOTOS / food).iterdir() if path.suffix != ".txt")
    for n, path in enumerate(photos):
        (answer,) = recognizer.predict([path.read_bytes()])
        await memory.teach(
            people[n % len(people)], food, answer.embedding, recognizer.bundle_id, source="corrected"
        )


async def test_foods_taught_by_several_people_become_a_gated_candidate(
    registry: RegistryStore,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    settings = _settings(data_dir, "sqlite://", model_check_seconds=0)
    memory = MemoryStore(registry.sessions)
    shared = _new_foods(default_bundle, 3)[:6]
    for food in shared:
        await _teach(memory, recognizer, food, PEOPLE)
    await _teach(memory, recognizer, "avocado", (104,))  # one person's food
    await memory.teach(105, "my_1", (await _embedding(recognizer, "avocado")), recognizer.bundle_id)

    summary = await retrain_once(registry, settings, progress=lambda _line: None)

    assert sorted(summary["new_foods"]) == sorted(shared), "only foods three people taught"
    record = await registry.get(summary["candidate"])
    assert record is not None and record.parent_id == default_bundle.id
    assert record.data["new_foods"] == len(shared) and record.data["people"] == 3
    report = json.loads((data_dir / "models" / "reports" / f"{record.id}.json").read_text())
    assert report["candidate"] == record.id and len(report["reasons"]) == 4
    assert record.metrics["promote"] == report["promote"]
    serving = await registry.serving()
    assert serving is not None
    if report["promote"]:
        assert summary["outcome"] == "promoted" and serving.id == record.id
        assert len(await memory.every_example(record.id)) == len(
            await memory.every_example(default_bundle.id)
        )
    else:
        assert record.state == "refused" and serving.id == default_bundle.id


async def _embedding(recognizer: Recognizer, food: str) -> bytes:
    path = next(iter(sorted((PHOTOS / food).iterdir())))
    (answer,) = recognizer.predict([path.read_bytes()])
    return answer.embedding


async def test_forgotten_people_are_not_learned_from(
    registry: RegistryStore, recognizer: Recognizer, default_bundle: ModelBundle, data_dir: Path
) -> None:
    settings = _settings(data_dir, "sqlite://", model_check_seconds=0)
    memory = MemoryStore(registry.sessions)
    food = _new_foods(default_bundle, 3)[0]
    await _teach(memory, recognizer, food, PEOPLE)
    await AccountStore(registry.sessions, _table()).forget_user(PEOPLE[0])

    summary = await retrain_once(registry, settings, progress=lambda _line: None)
    assert summary["new_foods"] == [] and "candidate" not in summary
    assert summary["outcome"] == "no food taught by enough people to become a class"
    assert [r.id for r in await registry.records()] == [default_bundle.id], "no candidate registered"


async def test_a_scheduled_run_waits_for_enough_new_examples(
    registry: RegistryStore, default_bundle: ModelBundle, data_dir: Path
) -> None:
    settings = _settings(data_dir, "sqlite://", model_check_seconds=0)
    summary = await retrain_once(registry, settings, min_new=50, progress=lambda _line: None)
    assert summary["outcome"] == "not enough new examples"


def test_the_nightly_run_is_due_from_its_hour_to_the_end_of_the_day() -> None:
    from datetime import datetime

    assert due_key(datetime(2026, 12, 1, 2, 59), 3) is None
    assert due_key(datetime(2026, 12, 1, 3, 0), 3) == "2026-12-01"
    assert due_key(datetime(2026, 12, 1, 23, 59), 3) == "2026-12-01"
    assert due_key(datetime(2026, 12, 1, 12, 0), None) is None


def _table() -> Any:
    from meallog.nutrition import NutritionTable

    return NutritionTable.load()


async def test_a_promoted_retrain_is_served_by_the_running_queue_with_memory_carried_over(
    registry: RegistryStore,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orchestration's promote path: the gate's verdict is forced to "promote" here (the gate's own
    rules are tested in tests/training/test_gate.py); everything else is real."""
    import asyncio

    import training.gate
    from model.queue import InProcessQueue
    from model.serving_watch import BundleWatch

    real_decide = training.gate.decide
    monkeypatch.setattr(training.gate, "decide", lambda *args: (True, real_decide(*args)[1]))
    settings = _settings(data_dir, "sqlite://", model_check_seconds=0)
    memory = MemoryStore(registry.sessions)
    food = _new_foods(default_bundle, 3)[0]
    await _teach(memory, recognizer, food, PEOPLE)

    def build(bundle: ModelBundle) -> Recognizer:
        return Recognizer(bundle, device="cpu")

    watch = BundleWatch(lambda: registry.serving_dir(data_dir / "models" / "registry"), build, every_s=0.05)
    queue = InProcessQueue(lambda: build(default_bundle))
    queue.follow(watch)
    await queue.start()
    try:
        summary = await retrain_once(registry, settings, progress=lambda _line: None)
        assert summary["outcome"] == "promoted"
        await asyncio.wait_for(watch.changed.wait(), timeout=120)
        photo_bytes = next(p for p in sorted((PHOTOS / food).iterdir()) if p.suffix != ".txt").read_bytes()
        answer = await queue.recognize(photo_bytes)
        assert answer.bundle_id == summary["candidate"]
        assert food in [f.key for f in answer.foods], "the taught food is a class of the served model now"
        assert len(await memory.every_example(summary["candidate"])) == 3, "memory carried over"
    finally:
        await queue.close()


async def test_a_refused_candidate_is_not_gated_again_on_the_same_data(
    registry: RegistryStore,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import training.gate

    real_decide = training.gate.decide
    monkeypatch.setattr(training.gate, "decide", lambda *args: (False, real_decide(*args)[1]))
    settings = _settings(data_dir, "sqlite://", model_check_seconds=0)
    memory = MemoryStore(registry.sessions)
    await _teach(memory, recognizer, _new_foods(default_bundle, 3)[1], PEOPLE)

    first = await retrain_once(registry, settings, progress=lambda _line: None)
    assert first["outcome"] == "refused by the gate"
    again = await retrain_once(registry, settings, progress=lambda _line: None)
    assert again["outcome"] == "same as an earlier candidate (refused)"
    assert again["candidate"] == first["candidate"]
    assert not any((data_dir / "models" / "candidates").glob("*/bundle.json")), "no copies left on disk"

    off = _settings(data_dir, "sqlite://", model_check_seconds=0, memory_shared=False)
    assert (await retrain_once(registry, off, progress=lambda _line: None))[
        "outcome"
    ] == "MEMORY_SHARED is off"
