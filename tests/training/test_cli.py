"""`foodbot train`, `evaluate` and the mapping draft as a person runs them; the bundle `predict` serves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from foodbot.cli import main
from model.bundle import ModelBundle, load_bundle
from tests.training.conftest import Trained
from tests.training.synth import make_coco, make_folder, make_image

FOODBOT = str(Path(sys.executable).parent / "foodbot")
TINY_RUN = (
    "--image-size",
    "64",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--val-fraction",
    "0.25",
    "--workers",
    "0",
)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MODEL_", "DATABASE_"))}
    return {**env, "DATA_DIR": str(data_dir), "DEVICE": "cpu", "OMP_NUM_THREADS": "1", **extra}


def _foodbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FOODBOT, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_foodbot_train_makes_a_bundle_that_foodbot_predict_serves(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    data = make_folder(tmp_path / "data", per_class=12, labels=("pizza", "sushi"))
    # A class with no nutrition key: kept in the bundle with no food, and reported.
    shutil.copytree(
        make_folder(tmp_path / "other", per_class=12, labels=("guacamole",)) / "guacamole",
        data / "mystery_stew",
    )
    run = tmp_path / "run"
    done = _foodbot(
        "train",
        str(data),
        "--out",
        str(run),
        *TINY_RUN,
        env=_env(data_dir),
    )
    assert done.returncode == 0, done.stderr
    assert (
        "2 of 3 mapped" in done.stdout
        and "unmapped (kept in the bundle with no food): mystery_stew" in done.stdout
    )
    assert f"MODEL_DIR={run / 'bundle'}" in done.stdout
    bundle = load_bundle(run / "bundle")
    assert bundle.meta.label_foods == {"mystery_stew": None, "pizza": "pizza", "sushi": "sushi"}
    assert bundle.onnx_path is not None and (run / "curves.png").is_file()

    rng = np.random.default_rng(99)
    photos = {}
    for label in ("pizza", "sushi", "guacamole"):
        photos[label] = tmp_path / f"{label}.jpg"
        make_image(label, rng).save(photos[label], quality=90)
    done = _foodbot(
        "predict", "--json", *map(str, photos.values()), env=_env(data_dir, MODEL_DIR=str(run / "bundle"))
    )
    assert done.returncode == 0, done.stderr
    pizza, sushi, stew = json.loads(done.stdout)
    assert pizza["foods"][0]["key"] == "pizza" and pizza["foods"][0]["present"] and pizza["total"]["kcal"] > 0
    assert sushi["foods"][0]["key"] == "sushi"
    assert {food["key"] for food in stew["foods"]} <= {"pizza", "sushi"}, (
        "a label with no food is never a food"
    )


def test_foodbot_evaluate_reports_accuracy_and_the_worst_classes(
    trained: Trained,
    folder_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVICE", "cpu")
    report = tmp_path / "report.json"
    status = main(["evaluate", str(trained.result.bundle_dir), str(folder_dataset), "--json", str(report)])
    out = capsys.readouterr().out
    assert status == 0
    assert "on the all split" in out and "top-1" in out and "mean class accuracy" in out
    figures = json.loads(report.read_text())["metrics"]
    assert figures["images"] == 64 and figures["top1"] > 0.6
    assert set(figures["per_class"]) == {"guacamole", "pancakes", "pizza", "sushi"}

    status = main(
        [
            "evaluate",
            str(trained.result.bundle_dir),
            str(folder_dataset),
            "--split",
            "val",
            "--val-fraction",
            "0.25",
        ]
    )
    assert status == 0 and "images 16" in capsys.readouterr().out


def test_foodbot_train_find_lr_and_write_mapping(
    tmp_path: Path,
    folder_dataset: Path,
    data_dir: Path,
    default_bundle: ModelBundle,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DEVICE", "cpu")
    small = make_folder(tmp_path / "small", per_class=4, labels=("pizza", "sushi"))
    flags = "--find-lr --lr-find-steps 4 --image-size 64 --batch-size 4 --workers 0 --no-progress"
    status = main(["train", str(small), "--out", str(tmp_path / "lr"), *flags.split()])
    assert status == 0 and "train with --lr" in capsys.readouterr().out
    assert (tmp_path / "lr" / "lr_find.png").is_file() and not (tmp_path / "lr" / "bundle").exists()

    coco = make_coco(tmp_path / "frb", [["pizza", "sushi"], ["guacamole"]])
    draft = tmp_path / "frb.csv"
    assert main(["train", str(coco), "--out", str(tmp_path / "x"), "--write-mapping", str(draft)]) == 0
    rows = draft.read_text().splitlines()
    assert rows[0] == "label,food_key" and "pizza,pizza" in rows and "sushi,sushi" in rows

    assert main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "y")]) == 2
    assert "does not exist" in capsys.readouterr().err
