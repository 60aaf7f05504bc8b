"""`foodbot export-corrections` against a real database of meals and the loopback Bot API server."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from foodbot.cli import main
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.nutrition import default_table
from meallog.store.meals import MealStore
from meallog.store.people import PeopleStore
from meallog.store.views import NewItem
from model.recognition import RankedFood, Recognition
from tests.telegram_fake import FakeTelegram
from tests.training.synth import make_image
from training.datasets import load_dataset

ANN = 1001
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def _jpeg(label: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    make_image(label, np.random.default_rng(seed), size=160).save(buffer, format="JPEG")
    return buffer.getvalue()


def _recognition(*foods: str) -> Recognition:
    ranked = tuple(RankedFood(key, key.title(), 0.6 - 0.1 * i, True) for i, key in enumerate(foods))
    return Recognition(foods=ranked, no_food=False, bundle_id="test-bundle", food_mass=0.9)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[PeopleStore, MealStore, str]]:
    """A migrated SQLite database: the stores to fill it, and its URL for the command."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'foodbot.db'}"
    await asyncio.to_thread(upgrade_database, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    yield PeopleStore(sessions), MealStore(sessions, default_table()), url
    await engine.dispose()


async def _photo_meal(meals: MealStore, file_id: str, unique_id: str, *model_foods: str) -> int:
    items = [NewItem(food, default_table()[food].portion_g) for food in model_foods]
    meal = await meals.start_draft(
        ANN,
        eaten_at=NOON,
        photo_file_id=file_id,
        photo_unique_id=unique_id,
        recognition=_recognition(*model_foods),
        items=items,
    )
    return meal.id


def _export(monkeypatch: pytest.MonkeyPatch, out: Path, env: dict[str, str], *extra: str) -> int:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return main(["export-corrections", str(out), *extra])


async def test_export_downloads_the_corrected_photos_and_writes_their_foods(
    tmp_path: Path, database: tuple[PeopleStore, MealStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    people, meals, url = database
    async with FakeTelegram() as tg:
        ann = tg.user(ANN)
        await people.ensure_user(ANN, ann.chat_id)
        # Photo 1: the model said pizza and sushi; Ann made the pizza guacamole and saved the meal.
        first = (await ann.send_photo(_jpeg("guacamole", 1)))["photo"][-1]
        meal = await meals.get_meal(
            await _photo_meal(meals, first["file_id"], first["file_unique_id"], "pizza", "sushi"), ANN
        )
        assert meal is not None
        await meals.change_item_food(meal.id, meal.items[0].id, ANN, "guacamole")
        await meals.save_meal(meal.id, ANN)
        # Photo 2: the model said pizza; Ann took it away and added pancakes, and left it a draft.
        second = (await ann.send_photo(_jpeg("pancakes", 2)))["photo"][-1]
        draft = await meals.get_meal(
            await _photo_meal(meals, second["file_id"], second["file_unique_id"], "pizza"), ANN
        )
        assert draft is not None
        await meals.remove_item(draft.id, draft.items[0].id, ANN)
        await meals.add_item(draft.id, ANN, "pancakes")
        # Photo 3: a file id the server does not know (a photo from another bot's token).
        gone = await meals.get_meal(await _photo_meal(meals, "AgAC-unknown", "AQAD-gone", "pizza"), ANN)
        assert gone is not None
        await meals.change_item_food(gone.id, gone.items[0].id, ANN, "sushi")

        env = {
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "DATABASE_URL": url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        out = tmp_path / "export"
        status = await asyncio.to_thread(_export, monkeypatch, out, env)
        assert status == 1, "a photo that could not be fetched makes the exit status 1"
        assert sorted(file_id for file_id, _ in tg.downloads) == sorted([first["file_id"], second["file_id"]])

        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["format"] == "foodbot-corrections"
        one, two, three = manifest["photos"]
        assert (one["labels"], one["labels_from"], one["not_labels"]) == (
            ["guacamole", "sushi"],
            "saved meal",
            ["pizza"],
        )
        assert (two["labels"], two["labels_from"], two["not_labels"]) == (
            ["pancakes"],
            "corrections",
            ["pizza"],
        )
        assert [c["kind"] for c in two["corrections"]] == ["removed", "added"]
        assert two["model_foods"][0][0] == "pizza" and two["bundle_id"] == "test-bundle"
        assert (out / one["file"]).read_bytes() == tg.world.files[first["file_id"]].data
        assert (out / two["file"]).read_bytes() == tg.world.files[second["file_id"]].data
        assert three["file"] is None and "error" in three

        # A second export keeps what it has and fetches nothing again.
        before = len(tg.downloads)
        assert await asyncio.to_thread(_export, monkeypatch, out, env) == 1
        assert len(tg.downloads) == before

    data = load_dataset(out, val_fraction=0.0)
    assert data.layout == "corrections" and data.labels == ("guacamole", "pancakes", "sushi")
    assert data.multi_label and len(data.train) == 2


async def test_without_a_token_only_the_manifest_is_written(
    tmp_path: Path, database: tuple[PeopleStore, MealStore, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    people, meals, url = database
    await people.ensure_user(ANN, ANN)
    meal = await meals.get_meal(await _photo_meal(meals, "AgAC-1", "AQAD-1", "pizza"), ANN)
    assert meal is not None
    await meals.change_item_food(meal.id, meal.items[0].id, ANN, "sushi")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    env = {"TELEGRAM_BOT_TOKEN": "", "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")}
    assert await asyncio.to_thread(_export, monkeypatch, tmp_path / "out", env) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    [photo] = manifest["photos"]
    assert photo["file"] is None and photo["labels"] == ["sushi"] and photo["photo_file_id"] == "AgAC-1"
    assert not (tmp_path / "out" / "photos").exists()
