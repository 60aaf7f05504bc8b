"""The learning-rate range test: raise the rate exponentially batch by batch and watch the loss.

The model is copied first, so the test leaves the one it was given untouched. The loss is smoothed with
a bias-corrected moving average; the test stops early once it diverges (four times the best smoothed
loss, or not finite). The suggestion is the rate where the smoothed loss falls fastest (steepest negative
slope against log-rate) before its minimum, which is usually a safe, fast rate for AdamW fine-tuning;
when the curve is too short to have a slope, a tenth of the rate at the minimum.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from training.datasets import Batch

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Stop once the smoothed loss exceeds this multiple of the best one seen.
DIVERGENCE = 4.0
#: Weight of the newest loss in the moving average is 1 - SMOOTHING.
SMOOTHING = 0.9


@dataclass(frozen=True)
class LRFindResult:
    """The rates tried, the smoothed loss at each, and the suggested rate."""

    lrs: list[float]
    losses: list[float]
    suggestion: float


def _batches(loader: Iterable[Batch | None]) -> Iterator[Batch]:
    """The loader's batches round and round (a small dataset may have fewer batches than steps)."""
    while True:
        produced = False
        for batch in loader:
            if batch is not None:
                produced = True
                yield batch
        if not produced:
            raise ValueError("the training data gave no readable batch")


def suggest(lrs: list[float], losses: list[float]) -> float:
    """The rate of steepest descent of the smoothed loss before its minimum (see the module docstring)."""
    if not lrs:
        raise ValueError("no losses to suggest a rate from")
    values = np.asarray(losses, dtype=np.float64)
    lowest = int(np.nanargmin(values))
    skip = max(1, len(values) // 10)  # the first steps are all noise and warm-up of the average
    if lowest - skip < 2:
        return lrs[lowest] / 10
    window = slice(skip, lowest + 1)
    slopes = np.gradient(values[window], np.log10(np.asarray(lrs[window])))
    return float(lrs[skip + int(np.argmin(slopes))])


def lr_range_test(
    model: torch.nn.Module,
    loader: Iterable[Batch | None],
    criterion: Criterion,
    step_inputs: Callable[[Batch], tuple[torch.Tensor, torch.Tensor]],
    autocast: Callable[[], torch.autocast],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 1.0,
    steps: int = 100,
    weight_decay: float = 0.05,
    progress: Callable[[Iterable[int]], Iterable[int]] = lambda steps: steps,
) -> LRFindResult:
    """Run the test on a copy of `model`; `step_inputs` moves a batch to the device (and mixes it)."""
    if steps < 2 or not 0 < start_lr < end_lr:
        raise ValueError("the range test needs at least 2 steps and 0 < start_lr < end_lr")
    trial = copy.deepcopy(model).train()
    params = [p for p in trial.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=start_lr, weight_decay=weight_decay)
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    batches = _batches(loader)
    lrs: list[float] = []
    smoothed: list[float] = []
    average = 0.0
    best = math.inf
    for step in progress(range(steps)):
        lr = start_lr * factor**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, targets = step_inputs(next(batches))
        with autocast():
            logits = trial(images)
        loss = criterion(logits.float(), targets)
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        current = average / (1 - SMOOTHING ** (step + 1))
        lrs.append(lr)
        smoothed.append(current)
        best = min(best, current)
        if current > DIVERGENCE * best and step > steps // 10:
            break
    del trial, optimizer
    return LRFindResult(lrs, smoothed, suggest(lrs, smoothed))
