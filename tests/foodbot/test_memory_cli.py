"""`foodbot teach`, `predict --user` and `evaluate-memory` as a person runs them, on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env
from tests.bot.test_memory_flow import another_shot
from tests.conftest import FIXTURES


def foodbot(data_dir: Path, database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FOODBOT, *args],
        env=foodbot_env(data_dir, DATABASE_URL=f"sqlite+aiosqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def first_food(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)[0]["foods"][0]["key"])


def test_teach_then_predict_for_that_user_names_the_taught_food(
    data_dir: Path, default_bundle: ModelBundle, tmp_path: Path
) -> None:
    database = tmp_path / "memory.db"
    later = tmp_path / "orange-again.jpg"
    later.write_bytes(another_shot("orange.jpg"))
    orange = str(FIXTURES / "orange.jpg")

    taught = foodbot(data_dir, database, "teach", orange, "tangerine", "--user", "42", "--json")
    assert taught.returncode == 0, taught.stderr
    assert json.loads(taught.stdout) == {"key": "mandarin", "name": "Mandarin"}, "found by its alias"

    assert (
        first_food(foodbot(data_dir, database, "predict", str(later), "--user", "42", "--json")) == "mandarin"
    )
    assert first_food(foodbot(data_dir, database, "predict", str(later), "--user", "7", "--json")) == "orange"
    assert first_food(foodbot(data_dir, database, "predict", str(later), "--json")) == "orange"

    by_key = foodbot(data_dir, database, "teach", orange, "orange_juice", "--user", "42")
    assert by_key.returncode == 0 and "Orange juice" in by_key.stdout


def test_teach_refuses_an_unknown_food_with_suggestions_and_a_missing_photo(
    data_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "memory.db"
    unknown = foodbot(data_dir, database, "teach", str(FIXTURES / "orange.jpg"), "oranje", "--user", "42")
    assert unknown.returncode == 1
    assert "no food called 'oranje'" in unknown.stderr and "Orange (orange)" in unknown.stderr
    missing = foodbot(data_dir, database, "teach", str(tmp_path / "nope.jpg"), "orange", "--user", "42")
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_evaluate_memory_prints_counts_and_passes_when_nothing_breaks(
    data_dir: Path, default_bundle: ModelBundle, tmp_path: Path
) -> None:
    data = tmp_path / "set"
    (data / "mandarin").mkdir(parents=True)
    (data / "no_food").mkdir()
    shutil.copy(FIXTURES / "orange.jpg", data / "mandarin" / "a.jpg")
    (data / "mandarin" / "b.jpg").write_bytes(another_shot("orange.jpg"))
    for name in ("chelsea.png", "astronaut.png"):
        shutil.copy(FIXTURES / name, data / "no_food" / name)
    done = foodbot(data_dir, tmp_path / "unused.db", "evaluate-memory", str(data), "--shots", "1", "--json")
    assert done.returncode == 0, done.stderr
    [one] = json.loads(done.stdout)["shots"]
    assert one["top1"]["plain"] == {"right": 0, "of": 1, "share": 0.0}
    assert one["top1"]["memory"] == {"right": 1, "of": 1, "share": 1.0}
    assert one["no_food_kept"]["memory"]["right"] == 2 and one["passed"]
