"""What a training run depends on (`TrainConfig`), what it produces (`TrainResult`) and how it refuses.

This module imports nothing beyond the standard library, on purpose: `foodbot`'s argument parser reads its
defaults from `TrainConfig` at start, and must not pay for torch to print `--help`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only for the annotation of TrainResult.mapping, which stays a string at run time
    from training.mapping import LabelMapping

DEFAULT_ARCH = "tf_efficientnet_lite0"
#: Data loading processes a run starts at most (more rarely pays on one machine's disk and CPUs).
MAX_WORKERS = 8

Head = Literal["softmax", "sigmoid"]
Report = Callable[[str], None]


class TrainingError(RuntimeError):
    """A run that cannot start or go on; the message says what to change."""


def default_workers() -> int:
    """One loader process per CPU, up to `MAX_WORKERS`."""
    return min(MAX_WORKERS, os.cpu_count() or 1)


@dataclass
class TrainConfig:
    """Everything a run depends on; `foodbot train` fills it from its flags, whose defaults are these."""

    data: Path
    out: Path
    layout: str = "auto"
    val_data: Path | None = None
    val_fraction: float = 0.2
    mapping: Path | None = None
    arch: str = DEFAULT_ARCH
    #: "auto" (the default bundle for its own arch, else the hub), "default", "hub", "none", or a
    #: bundle directory or weights file (.safetensors, .pth, .pt, .bin).
    backbone: str = "auto"
    default_bundle_dir: Path | None = None
    image_size: int | None = None
    epochs: int = 10
    batch_size: int = 32
    #: None: run the LR range test first and train at its suggestion.
    lr: float | None = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.1
    head: str = "auto"
    multilabel_loss: str = "asl"
    auto_augment: str | None = "rand-m9-mstd0.5-inc1"
    mixup: float = 0.0
    cutmix: float = 0.0
    accum_steps: int = 1
    freeze_epochs: int = 0
    balanced: bool = False
    seed: int = 0
    device: str = "auto"
    workers: int = field(default_factory=default_workers)
    patience: int | None = None
    resume: bool = False
    onnx: bool = True
    lr_find_steps: int = 100
    progress: bool | None = None

    def check(self) -> None:
        """Refuse settings that cannot work, before any data is read."""
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if self.accum_steps < 1:
            problems.append("--accum must be at least 1")
        if self.lr is not None and not self.lr > 0:
            problems.append("--lr must be above 0")
        if self.head not in ("auto", "softmax", "sigmoid"):
            problems.append("--head must be auto, softmax or sigmoid")
        if self.multilabel_loss not in ("asl", "bce"):
            problems.append("--loss must be asl or bce")
        if not 0 <= self.label_smoothing < 1:
            problems.append("--label-smoothing must be at least 0 and below 1")
        if self.mixup < 0 or self.cutmix < 0:
            problems.append("--mixup and --cutmix must not be negative")
        if self.image_size is not None and self.image_size < 32:
            problems.append("--image-size must be at least 32")
        if self.patience is not None and self.patience < 1:
            problems.append("--patience must be at least 1")
        if problems:
            raise TrainingError("; ".join(problems))


@dataclass
class TrainResult:
    """What a finished run produced."""

    bundle_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    mapping: LabelMapping
    images_per_s: float
