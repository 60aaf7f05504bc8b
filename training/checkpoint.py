"""What a run saves after every epoch, so that `--resume` continues it exactly, and how it reads it back.

A checkpoint holds the model, optimizer and schedule state and the run's bookkeeping (`RunState`); it is
refused for another model, dataset or number of epochs, which would not continue the same run.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from training.config import Report, TrainingError
from training.setup import Setup

CHECKPOINT_FORMAT = 1


def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save` to a temporary file renamed over `path`: a run killed mid-save leaves the old file."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class RunState:
    """The run's bookkeeping across epochs: history, the best epoch so far, early stopping and speed."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_tie_break: float = 0.0
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped: bool = False
    train_images: int = 0
    train_seconds: float = 0.0


def checkpoint(
    setup: Setup, optimizer: torch.optim.Optimizer, scheduler: LRScheduler, state: RunState
) -> dict[str, Any]:
    """Everything `restore` needs, as plain tensors and values (loadable with `weights_only=True`)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": setup.config.arch,
        "labels": list(setup.labels),
        "head": setup.head,
        "epochs": setup.config.epochs,
        "model": setup.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "state": asdict(state),
    }


def restore(
    path: Path, setup: Setup, optimizer: torch.optim.Optimizer, scheduler: LRScheduler, report: Report
) -> RunState:
    """Load a checkpoint into the model, optimizer and schedule; refuse one of another run."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a checkpoint this version can resume")
    theirs = (ckpt["arch"], tuple(ckpt["labels"]), ckpt["head"])
    ours = (setup.config.arch, setup.labels, setup.head)
    if theirs != ours:
        raise TrainingError(
            f"{path} is a run of another model or dataset ({theirs[0]}, {len(theirs[1])} labels)"
        )
    if ckpt["epochs"] != setup.config.epochs:
        raise TrainingError(
            f"{path} was planned for {ckpt['epochs']} epochs; resume with --epochs {ckpt['epochs']}"
        )
    setup.model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    state = RunState(**ckpt["state"])
    report(f"resuming {path.parent} after epoch {state.epoch}")
    return state
