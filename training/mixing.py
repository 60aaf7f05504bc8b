"""Mixup and CutMix, seeded per epoch so that a resumed run draws the same mixes as an uninterrupted one."""

from __future__ import annotations

import math

import numpy as np
import torch


# Not timm's Mixup: it asserts an even batch, and draws from the global NumPy RNG that RandAugment shares.
class Mixer:
    """Mixup and CutMix on a batch and its targets (pairing each image with the batch reversed).

    With both on, each batch takes one of the two at even odds. Targets mix in the same proportion as
    the pixels, so they work for softmax and sigmoid heads alike (dense multi-hot rows included). Any batch
    of two or more is mixed, odd sizes too.
    """

    def __init__(self, mixup: float, cutmix: float, seed: int) -> None:
        self.mixup = mixup
        self.cutmix = cutmix
        self.rng = np.random.default_rng(seed)

    @property
    def active(self) -> bool:
        """Whether any batch is mixed at all."""
        return self.mixup > 0 or self.cutmix > 0

    def reseed(self, seed: int) -> None:
        """Start the draws afresh; the run calls this at every epoch with `seed + epoch`."""
        self.rng = np.random.default_rng(seed)

    def __call__(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch and its dense targets, mixed with the batch reversed (unchanged when off or alone)."""
        if not self.active or len(images) < 2:
            return images, targets
        use_cutmix = self.cutmix > 0 and (self.mixup <= 0 or self.rng.random() < 0.5)
        alpha = self.cutmix if use_cutmix else self.mixup
        lam = float(self.rng.beta(alpha, alpha))
        partner_images, partner_targets = images.flip(0), targets.flip(0)
        if use_cutmix:
            height, width = images.shape[-2:]
            cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
            cy, cx = int(self.rng.integers(height)), int(self.rng.integers(width))
            y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
            x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
            images = images.clone()
            images[..., y0:y1, x0:x1] = partner_images[..., y0:y1, x0:x1]
            lam = 1 - (y1 - y0) * (x1 - x0) / (height * width)  # the share of pixels actually kept
        else:
            images = images * lam + partner_images * (1 - lam)
        return images, targets * lam + partner_targets * (1 - lam)
