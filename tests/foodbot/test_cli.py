"""`foodbot` as a person runs it: predict on real photos, and `run` with no, a rejected, or a good token."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import pytest

from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env, start_foodbot_run
from tests.conftest import FIXTURES
from tests.telegram_fake import FakeTelegram


def test_predict_prints_espresso_with_its_macros(data_dir: Path, default_bundle: ModelBundle) -> None:
    done = subprocess.run(
        [FOODBOT, "predict", str(FIXTURES / "coffee.png")],
        env=foodbot_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first_food = done.stdout.splitlines()[1]
    assert "Espresso" in first_food and "kcal" in first_food and "protein" in first_food
    assert "meal" in done.stdout


def test_predict_json_answers_every_file_and_fails_only_the_bad_ones(
    data_dir: Path, default_bundle: ModelBundle, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((FIXTURES / "orange.jpg").read_bytes()[:1500])
    files = [FIXTURES / "coffee.png", FIXTURES / "chelsea.png", tmp_path / "missing.jpg", broken]
    done = subprocess.run(
        [FOODBOT, "predict", "--json", "--top", "2", *map(str, files)],
        env=foodbot_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, "a failed file makes the exit status 1"
    coffee, cat, missing, cut = json.loads(done.stdout)
    assert coffee["file"].endswith("coffee.png") and coffee["error"] is None and not coffee["no_food"]
    top = coffee["foods"][0]
    assert top["key"] == "espresso" and top["grams"] > 0 and top["confidence"] > 0.8
    assert set(top) >= {"key", "name", "confidence", "grams", "kcal", "protein_g", "fat_g", "carbs_g"}
    assert len(coffee["foods"]) == 2
    assert coffee["total"]["kcal"] == top["kcal"], "the meal is the top food of a single-label model"
    assert cat["no_food"] is True and cat["error"] is None
    assert missing["error"] == "no such file"
    assert "cut off" in cut["error"]


def test_run_without_a_token_says_what_to_put_infoodbot_env(tmp_path: Path) -> None:
    done = subprocess.run(
        [FOODBOT, "run"],
        cwd=tmp_path,
        env=foodbot_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN=" in done.stderr and ".env" in done.stderr and "@BotFather" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", [",", "12,,x"])
def test_run_with_a_malformed_allow_list_says_so_in_one_line(tmp_path: Path, value: str) -> None:
    done = subprocess.run(
        [FOODBOT, "run"],
        cwd=tmp_path,
        env=foodbot_env(tmp_path / "data", TELEGRAM_BOT_TOKEN="1:x", ALLOWED_USER_IDS=value),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "Configuration error in ALLOWED_USER_IDS: ALLOWED_USER_IDS must be Telegram user ids"
    )
    assert "like 123456789,987654321" in line and "Value error" not in line


async def test_run_with_a_rejected_token_says_so_in_one_line(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    async with FakeTelegram() as tg:
        process = await start_foodbot_run(tmp_path, data_dir, tg, "999:WRONG")
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert "rejected TELEGRAM_BOT_TOKEN" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_run_serves_people_and_stops_cleanly_on_sigterm(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    async with FakeTelegram() as tg:
        process = await start_foodbot_run(tmp_path, data_dir, tg, tg.token)
        try:
            await tg.wait_for(lambda: tg.commands, timeout=120)
            ann = tg.user(1001, "Ann")
            await ann.send_text("2 eggs")
            card = await tg.next_bot_message(ann.chat_id, timeout=30)
            assert card.text is not None and "Egg" in card.text
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert (tmp_path / "run.db").is_file(), "the database was created and migrated"


@pytest.mark.parametrize("args", [["predict"], ["predict", "x.jpg", "--top", "0"]])
def test_bad_arguments_are_refused(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [FOODBOT, *args], env=foodbot_env(tmp_path), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
