"""Scoring the model during a run: after every epoch on the validation split, and at the end on test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from training.config import Head
from training.metrics import multi_label_metrics, single_label_metrics
from training.setup import Setup, progress_bar


def predict_loader(
    setup: Setup, loader: DataLoader[Any], desc: str = "eval"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilities, targets and mean loss of the model over a loader (eval mode, no gradients)."""
    model = setup.model
    model.eval()
    probs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    total_loss, seen = 0.0, 0
    with torch.inference_mode():
        for batch in progress_bar(setup.config, loader, desc=desc, leave=False):
            if batch is None:
                continue
            images, target = setup.to_device(batch)
            with setup.autocast():
                logits = model(images)
            logits = logits.float()
            total_loss += float(setup.criterion(logits, target)) * len(images)
            seen += len(images)
            out = torch.sigmoid(logits) if setup.head == "sigmoid" else torch.softmax(logits, dim=-1)
            probs.append(out.cpu().numpy())
            targets.append(target.cpu().numpy())
    if not seen:
        return np.zeros((0, len(setup.labels))), np.zeros((0, len(setup.labels))), float("nan")
    return np.concatenate(probs), np.concatenate(targets), total_loss / seen


def score(
    head: Head,
    probs: np.ndarray,
    targets: np.ndarray,
    labels: tuple[str, ...],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """The full metrics for one split."""
    if head == "sigmoid":
        return multi_label_metrics(probs, targets, labels, thresholds)
    return single_label_metrics(probs, targets.argmax(axis=1), labels)


def headline(head: Head) -> str:
    """The validation metric that picks the best epoch and stops early."""
    return "mAP" if head == "sigmoid" else "top1"
