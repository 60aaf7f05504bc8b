"""`foodbot retrain --strength full` end to end: the taught photos are fetched again from the loopback
Bot API server by file id, the whole network is fine-tuned, the held-out gate decides, and a promoted
candidate serves with the whole memory embedded by itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from foodbot.retrain_command import RetrainError, retrain_once
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.store.memory import MemoryStore
from meallog.store.registry import RegistryStore
from model.bundle import ModelBundle, load_bundle
from model.recognizer import Recognizer
from tests.bot.processes import FOODBOT, foodbot_env
from tests.telegram_fake.media import photo_ladder
from tests.telegram_fake.methods import register_photo
from tests.telegram_fake.server import FakeTelegram
from training.gate import GateReport, decide
from training.head_retrain import known_foods

PHOTOS = Path(__file__).parents[2] / "bench" / "data" / "food_photos"
PEOPLE = (101, 102, 103)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
async def registry(database: str) -> AsyncIterator[RegistryStore]:
    engine = make_engine(database)
    yield RegistryStore(make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture(scope="module")
def regression_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small regression set (the gate's layout): two known foods and six no-food photos."""
    root = tmp_path_factory.mktemp("regression")
    for folder in ("apple", "banana", "no_food"):
        (root / folder).mkdir()
        for path in sorted((PHOTOS / folder).glob("*.jpg"))[:6]:
            (root / folder / path.name).symlink_to(path)
    return root


def _shared_foods(bundle: ModelBundle) -> list[str]:
    """Four foods the default model does not know, with three photos each (one for each person)."""
    known = known_foods(bundle.meta)
    return [
        folder.name
        for folder in sorted(PHOTOS.iterdir())
        if folder.is_dir() and folder.name not in (*known, "no_food") and len(list(folder.glob("*.jpg"))) >= 3
    ][:4]


async def _teach(
    tg: FakeTelegram, memory: MemoryStore, recognizer: Recognizer, food: str, people: tuple[int, ...]
) -> None:
    """Each photo of the food sent to the bot by the next person and saved as that food: Telegram holds
    the photo (its size ladder), memory its file id and the serving model's embedding."""
    for n, path in enumerate(sorted((PHOTOS / food).glob("*.jpg"))[:3]):
        ladder = photo_ladder(path.read_bytes())
        register_photo(tg.world, ladder)
        largest = ladder[-1]
        (answer,) = recognizer.predict([largest.data])
        await memory.teach(
            people[n % len(people)],
            food,
            answer.embedding,
            recognizer.bundle_id,
            source="corrected",
            photo_file_id=largest.file_id,
            photo_unique_id=largest.file_unique_id,
        )


def _settings(
    tg: FakeTelegram, database: str, data_dir: Path, regression_dir: Path, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": tg.token,
        "telegram_api_base_url": tg.base_url,
        "database_url": database,
        "data_dir": data_dir,
        "device": "cpu",
        "retrain_photos": regression_dir,
        "model_check_seconds": 0,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_foodbot_retrain_full_fetches_the_photos_by_file_id_and_gates_the_candidate(
    tg: FakeTelegram,
    registry: RegistryStore,
    database: str,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    regression_dir: Path,
) -> None:
    memory = MemoryStore(registry.sessions)
    shared = _shared_foods(default_bundle)
    for food in shared:
        await _teach(tg, memory, recognizer, food, PEOPLE)
    await _teach(tg, memory, recognizer, "avocado", (104,))  # one person's food: never a class
    env = foodbot_env(
        data_dir,
        DATABASE_URL=database,
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_BASE_URL=tg.base_url,
        RETRAIN_PHOTOS=str(regression_dir),
        MODEL_CHECK_SECONDS="0",
    )
    process = await asyncio.create_subprocess_exec(
        FOODBOT,
        "retrain",
        "--strength",
        "full",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    assert process.returncode == 0, err.decode()
    summary = json.loads(out)
    log = err.decode()

    assert summary["strength"] == "full"
    assert summary["photos"]["fetched"] == 3 * len(shared), "each chosen photo fetched once by file id"
    fetched_ids = {call["file_id"] for call in tg.calls_to("getFile")}
    assert len(fetched_ids) >= 3 * len(shared)
    assert sorted(summary["new_foods"]) == sorted(shared), "avocado, taught by one person, is no class"
    assert summary["held_out"] == len(shared) and summary["trained_photos"] == 2 * len(shared)
    assert "full retrain: epoch 1/" in log and "img/s on cpu" in log
    record = await registry.get(summary["candidate"])
    assert record is not None and record.parent_id == default_bundle.id
    assert record.data["kind"] == "full fine-tune" and record.data["held_out"] == len(shared)
    report = json.loads((data_dir / "models" / "reports" / f"{record.id}.json").read_text())
    assert report["method"] == "held out" and report["cross_validation"]["held_out"] == len(shared)
    assert report["regression"]["no_food_kept"]["serving"]["of"] == 6
    assert record.metrics["promote"] == report["promote"]
    parsed = GateReport.from_json(json.dumps(report))
    assert decide(parsed.cross_validation, parsed.regression, parsed.margin)[0] == report["promote"]
    assert not list((data_dir / "models").glob("retrain-photos-*")), "people's photos are not kept"
    serving = await registry.serving()
    assert serving is not None
    if report["promote"]:
        assert summary["outcome"] == "promoted" and serving.id == record.id
        assert summary["memory_embedded"] == len(await memory.every_example(default_bundle.id))
    else:
        assert summary["outcome"] == "refused by the gate"
        assert record.state == "refused" and serving.id == default_bundle.id


async def test_a_promoted_full_retrain_serves_with_the_whole_memory_embedded_by_itself(
    tg: FakeTelegram,
    registry: RegistryStore,
    database: str,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    regression_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orchestration's promote path: the gate's verdict is forced to "promote" (its rules are tested
    in tests/training/); the photos, the training, the memory and the switch are real."""
    import training.gate
    from model.queue import InProcessQueue
    from model.recognition import decode_embedding
    from model.serving_watch import BundleWatch

    real_decide = training.gate.decide
    monkeypatch.setattr(training.gate, "decide", lambda *args: (True, real_decide(*args)[1]))
    memory = MemoryStore(registry.sessions)
    food = _shared_foods(default_bundle)[0]
    await _teach(tg, memory, recognizer, food, PEOPLE)
    await _teach(tg, memory, recognizer, "avocado", (104,))  # personal memory: embedded again, no class
    mine = (PHOTOS / "apple").glob("*.jpg").__next__().read_bytes()
    (answer,) = recognizer.predict([mine])
    await memory.teach(105, "my_1", answer.embedding, recognizer.bundle_id)  # `foodbot teach`: no photo
    await memory.teach(
        106, food, answer.embedding, recognizer.bundle_id, photo_file_id="AgAC-gone", photo_unique_id="gone"
    )
    before = await memory.every_example(default_bundle.id)

    def build(bundle: ModelBundle) -> Recognizer:
        return Recognizer(bundle, device="cpu")

    settings = _settings(tg, database, data_dir, regression_dir)
    watch = BundleWatch(lambda: registry.serving_dir(data_dir / "models" / "registry"), build, every_s=0.05)
    queue = InProcessQueue(lambda: build(default_bundle))
    queue.follow(watch)
    await queue.start()
    try:
        summary = await retrain_once(registry, settings, strength="full", progress=lambda _line: None)
        assert summary["outcome"] == "promoted", summary
        candidate = summary["candidate"]
        assert summary["photos"]["gone"] == 1, "a photo Telegram no longer has costs only itself"
        assert summary["memory_embedded"] == len(before) - 2 and summary["memory_not_embedded"] == 2
        after = await memory.every_example(candidate)
        assert {(e.user_id, e.food_key) for e in after} == {
            (e.user_id, e.food_key) for e in before if e.user_id not in (105, 106)
        }, "every example with a photo, personal ones included, embedded for the new model"
        own = Recognizer(
            load_bundle(await registry.fetch(candidate, data_dir / "models" / "registry")), device="cpu"
        )
        for example in after:
            assert example.photo_file_id is not None
            (fresh,) = own.predict([tg.world.files[example.photo_file_id].data])
            similarity = decode_embedding(example.embedding) @ decode_embedding(fresh.embedding)
            assert similarity > 0.999, "embedded by the candidate itself, from the photo fetched again"
        gone = [e for e in await memory.every_example(default_bundle.id) if e.user_id == 106]
        assert gone[0].photo_file_id is None, "the gone photo is not asked for again"

        await asyncio.wait_for(watch.changed.wait(), timeout=120)
        photo = sorted((PHOTOS / food).glob("*.jpg"))[0].read_bytes()
        served = await queue.recognize(photo)
        assert served.bundle_id == candidate
        assert food in [f.key for f in served.foods], "the taught food is a class of the served model now"
    finally:
        await queue.close()


async def test_a_full_retrain_needs_the_bot_token_to_fetch_photos(
    tg: FakeTelegram,
    registry: RegistryStore,
    database: str,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    regression_dir: Path,
) -> None:
    memory = MemoryStore(registry.sessions)
    await _teach(tg, memory, recognizer, _shared_foods(default_bundle)[1], PEOPLE)
    settings = _settings(tg, database, data_dir, regression_dir, telegram_bot_token=None)
    with pytest.raises(RetrainError, match="TELEGRAM_BOT_TOKEN"):
        await retrain_once(registry, settings, strength="full", progress=lambda _line: None)
    auto = await retrain_once(registry, settings, strength="auto", progress=lambda _line: None)
    assert auto["strength"] == "head", "auto cannot fetch photos without a token"


def test_auto_strength_is_full_where_a_gpu_and_a_token_are(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.device
    from foodbot.retrain_command import resolve_strength

    with_token = Settings(_env_file=None, telegram_bot_token="1:x")  # type: ignore[call-arg, arg-type]
    without = Settings(_env_file=None)  # type: ignore[call-arg]
    assert resolve_strength("auto", with_token) == "head", "no GPU here"
    monkeypatch.setattr(model.device, "device_name", lambda choice="auto": "cuda")
    assert resolve_strength("auto", with_token) == "full"
    assert resolve_strength("auto", without) == "head"
    assert resolve_strength("head", with_token) == "head" and resolve_strength("full", without) == "full"


async def test_a_token_of_another_bot_marks_nothing_and_trains_nothing(
    tg: FakeTelegram,
    registry: RegistryStore,
    database: str,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    regression_dir: Path,
) -> None:
    """File ids belong to one bot: with another bot's token Telegram refuses every one of them. That
    must not be read as "every photo is gone" (which would erase every file id for good)."""
    memory = MemoryStore(registry.sessions)
    food = _shared_foods(default_bundle)[2]
    for n, user in enumerate(PEOPLE * 2):
        (answer,) = recognizer.predict([sorted((PHOTOS / food).glob("*.jpg"))[n % 3].read_bytes()])
        await memory.teach(
            user,
            food,
            answer.embedding,
            recognizer.bundle_id,
            photo_file_id=f"AgAC-other-bot-{n}",
            photo_unique_id=f"other-{n}",
        )
    settings = _settings(tg, database, data_dir, regression_dir)
    with pytest.raises(RetrainError, match="none of the 6 taught photos"):
        await retrain_once(registry, settings, strength="full", progress=lambda _line: None)
    assert all(e.photo_file_id for e in await memory.every_example(default_bundle.id)), "nothing marked"
    assert [r.id for r in await registry.records()] == [default_bundle.id], "no candidate"

    wrong = _settings(tg, database, data_dir, regression_dir, telegram_bot_token="999:NOT-THIS-BOT")
    with pytest.raises(RetrainError, match="Telegram could not be asked"):
        await retrain_once(registry, wrong, strength="full", progress=lambda _line: None)
    assert not list((data_dir / "models").glob("retrain-photos-*")), "the photo folder is gone"


async def test_a_candidate_whose_memory_could_not_be_fetched_waits_for_a_person(
    tg: FakeTelegram,
    registry: RegistryStore,
    database: str,
    recognizer: Recognizer,
    default_bundle: ModelBundle,
    data_dir: Path,
    regression_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gate is forced to pass and the tolerance for failed memory downloads below zero, so the
    hold path runs: the candidate passed, is kept with its files, and is not served until promoted."""
    import foodbot.retrain_command
    import training.gate

    real_decide = training.gate.decide
    monkeypatch.setattr(training.gate, "decide", lambda *args: (True, real_decide(*args)[1]))
    monkeypatch.setattr(foodbot.retrain_command, "EMBED_FAILURES_ALLOWED", -1.0)
    memory = MemoryStore(registry.sessions)
    await _teach(tg, memory, recognizer, _shared_foods(default_bundle)[3], PEOPLE)
    settings = _settings(tg, database, data_dir, regression_dir)

    summary = await retrain_once(registry, settings, strength="full", progress=lambda _line: None)
    assert summary["outcome"].startswith("passed the gate, not promoted"), summary
    assert f"foodbot model promote {summary['candidate']}" in summary["outcome"]
    record = await registry.get(summary["candidate"])
    serving = await registry.serving()
    assert record is not None and record.state == "candidate"
    assert serving is not None and serving.id == default_bundle.id
    await registry.promote(record.id)  # what the host's `foodbot model promote` does
    assert len(await memory.every_example(record.id)) == 3, "its memory was embedded all the same"


def test_a_photo_folder_left_by_a_killed_run_is_removed_a_day_later(tmp_path: Path) -> None:
    import os
    import time

    from foodbot.retrain_command import PHOTOS_PREFIX, STALE_PHOTOS_S, _remove_stale_photos

    stale, running = tmp_path / f"{PHOTOS_PREFIX}old", tmp_path / f"{PHOTOS_PREFIX}now"
    for folder in (stale, running):
        folder.mkdir()
        (folder / "000001").write_bytes(b"a person's photo")
    old = time.time() - STALE_PHOTOS_S - 60
    os.utime(stale, (old, old))
    _remove_stale_photos(tmp_path)
    assert not stale.exists() and (running / "000001").exists()
