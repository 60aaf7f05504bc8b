"""`TorchRuntime`: PyTorch inference, for CUDA and for bundles without an ONNX export.

Apart from `model.runtime` because importing PyTorch costs a few hundred MB and seconds, which a CPU
process serving an ONNX bundle (and the bot whose model runs in workers) never needs to pay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from model.bundle import ModelBundle
from model.embedding_model import LogitsAndEmbedding
from model.runtime import Batch, Outputs, Pixels


def _tensor(pixels: Pixels) -> torch.Tensor:
    """An array as a tensor sharing its memory; a tensor as it is."""
    return torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels


class TorchRuntime:
    """PyTorch inference on a device; on CUDA with bf16 autocast and channels_last."""

    def __init__(self, bundle: ModelBundle, device: str | torch.device, compile_model: bool = False) -> None:
        self.device = torch.device(device)
        self.head = bundle.meta.head
        self.cuda = self.device.type == "cuda"
        model = LogitsAndEmbedding(bundle.create_model()).eval().to(self.device)
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self.compiled = compile_model
        self._model: torch.nn.Module = torch.compile(model) if compile_model else model  # type: ignore[assignment]
        self.name = f"torch-{self.device.type}{'-bf16' if self.cuda else ''}"
        self.pipeline_depth = 1

    def forward(self, batch: Batch) -> Outputs:
        if isinstance(batch, Sequence):
            stacked = torch.stack([_tensor(pixels) for pixels in batch])
        else:
            stacked = _tensor(batch)
        with torch.inference_mode():
            if self.cuda:
                if stacked.device.type == "cpu":
                    stacked = stacked.pin_memory()
                stacked = stacked.to(self.device, non_blocking=True).contiguous(
                    memory_format=torch.channels_last
                )
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits, pooled = self._model(stacked)
            else:
                logits, pooled = self._model(stacked.to(self.device))
            logits = logits.float()
            probs = logits.sigmoid() if self.head == "sigmoid" else logits.softmax(dim=-1)
        return Outputs(probs.cpu().numpy(), pooled.float().cpu().numpy())
