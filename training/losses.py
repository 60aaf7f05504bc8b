"""The training losses: soft cross-entropy for a softmax head, asymmetric loss (or BCE) for a sigmoid one.

Both take dense float targets (one row per image, one column per label), because mixup and cutmix blend
targets and a multi-label plate has several ones in its row.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from training.config import Head

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy against (possibly mixed, multi-hot) targets, normalised and label-smoothed."""
    targets = targets / targets.sum(dim=-1, keepdim=True).clamp(min=1e-6)
    if smoothing:
        targets = targets * (1 - smoothing) + smoothing / targets.shape[-1]
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# Not timm's AsymmetricLossMultiLabel: on mixed (soft) targets it blends one focusing weight; losses differ.
def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
) -> torch.Tensor:
    """Asymmetric loss for multi-label data (Ridnik et al., 2021), summed over labels, mean over images.

    Negatives, which far outnumber positives, are down-weighted by `p ** gamma_neg` and easy ones (below
    `clip`) are dropped entirely, so the few positives of each photo are not drowned out.
    """
    probs = torch.sigmoid(logits)
    shifted = (probs - clip).clamp(min=0) if clip else probs
    log_pos = F.logsigmoid(logits)
    log_neg = torch.log((1 - shifted).clamp(min=1e-8))
    positive = targets * log_pos * (1 - probs).pow(gamma_pos) if gamma_pos else targets * log_pos
    negative = (1 - targets) * log_neg * shifted.pow(gamma_neg)
    return -(positive + negative).sum(dim=-1).mean()


def make_criterion(head: Head, multilabel_loss: str, smoothing: float) -> Criterion:
    """The loss for the head; `smoothing` applies to the softmax head's cross-entropy only."""
    if head == "softmax":
        return lambda logits, targets: soft_cross_entropy(logits, targets, smoothing)
    if multilabel_loss == "bce":
        return lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets)
    return asymmetric_loss
