"""Training plots as PNG files: loss and metric per epoch (`curves.png`), the LR range test (`lr_find.png`).

matplotlib's object API with the Agg canvas: no pyplot, no global figure state, no display needed, so it
is safe in a worker thread and on a headless server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _save(figure: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=100)
    return path


def plot_curves(history: Sequence[Mapping[str, Any]], metric: str, path: Path) -> Path:
    """Train and validation loss (left) and the validation metric (right), per epoch."""
    from matplotlib.figure import Figure

    epochs = [int(h["epoch"]) for h in history]
    figure = Figure(figsize=(10, 4), layout="tight")
    loss_ax, metric_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    val_losses = [
        (e, h["val_loss"]) for e, h in zip(epochs, history, strict=True) if h.get("val_loss") is not None
    ]
    if val_losses:
        loss_ax.plot([e for e, _ in val_losses], [v for _, v in val_losses], marker="o", label="validation")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.set_title("Loss")
    loss_ax.legend()
    values = [(e, h[metric]) for e, h in zip(epochs, history, strict=True) if h.get(metric) is not None]
    if values:
        metric_ax.plot([e for e, _ in values], [v for _, v in values], marker="o", color="tab:green")
    metric_ax.set_xlabel("epoch")
    metric_ax.set_ylabel(metric)
    metric_ax.set_title(f"Validation {metric}")
    for ax in (loss_ax, metric_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs)
    return _save(figure, path)


def plot_lr_find(lrs: Sequence[float], losses: Sequence[float], suggestion: float, path: Path) -> Path:
    """Smoothed loss against learning rate (log scale), with the suggested rate marked."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="tight")
    ax = figure.subplots()
    ax.plot(lrs, losses)
    ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggested {suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    ax.set_title("LR range test")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(figure, path)
