"""Shared fixtures: a generated folder dataset and one short fine-tune on it, made once per run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from model.bundle import ModelBundle
from tests.training.synth import make_folder
from training.config import TrainConfig, TrainResult
from training.train import train

#: Small enough for two shared CPU cores: 64 px inputs from 80 px images.
IMAGE_SIZE = 64


def tiny_config(data: Path, out: Path, start: ModelBundle, **overrides: object) -> TrainConfig:
    """A run that finishes in seconds on the CPU, from the default bundle's ImageNet backbone."""
    values: dict[str, object] = {
        "backbone": str(start.path),
        "image_size": IMAGE_SIZE,
        "epochs": 2,
        "batch_size": 8,
        "val_fraction": 0.25,
        "workers": 0,
        "progress": False,
        "device": "cpu",
        "onnx": False,
        **overrides,
    }
    return TrainConfig(data=data, out=out, **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Train on one CPU thread: on a machine whose cores are busy with other work, two OpenMP threads
    that wait for each other make a step several times slower, one thread never does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass
class Trained:
    """The shared fine-tune: its config, result and the lines it reported."""

    config: TrainConfig
    result: TrainResult
    lines: list[str]


@pytest.fixture(scope="session")
def folder_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four classes of 16 images each (12 train, 4 validation per class)."""
    return make_folder(tmp_path_factory.mktemp("folder") / "data", per_class=16)


@pytest.fixture(scope="session")
def trained(
    folder_dataset: Path, default_bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    """Two epochs from the default bundle's backbone, exported with model.onnx."""
    lines: list[str] = []
    config = tiny_config(folder_dataset, tmp_path_factory.mktemp("run") / "run", default_bundle, onnx=True)
    return Trained(config, train(config, report=lines.append), lines)
