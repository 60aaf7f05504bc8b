"""The network as served: class logits and the photo's embedding from one forward pass.

The embedding is timm's pooled pre-logit feature vector (`forward_head(..., pre_logits=True)`), the
input of the classifier layer. The meal log's memory of corrections compares photos by it, so the
classifier and the memory see the same photo through the same features, at no extra model cost.
"""

from __future__ import annotations

import torch


class LogitsAndEmbedding(torch.nn.Module):
    """Wraps a timm classifier so that `forward` returns `(logits, pooled_features)`."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(pixels)  # type: ignore[operator]
        pooled: torch.Tensor = self.model.forward_head(features, pre_logits=True)  # type: ignore[operator]
        logits: torch.Tensor = self.model.get_classifier()(pooled)  # type: ignore[operator]
        return logits, pooled
