"""The optimiser's settings over a run: which parameters decay, and the learning rate at every step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch


# Not timm's CosineLRScheduler: no setting of it gives this warm-up (1/W … 1) and this cosine together.
def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warm-up to the full rate, then a cosine down to `min_ratio` of it (per optimizer step).

    The factor is for `torch.optim.lr_scheduler.LambdaLR`; the first step already trains at 1/warmup of
    the rate, so no step is wasted at a rate of zero.
    """

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights only; biases and normalisation scales are left alone."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
