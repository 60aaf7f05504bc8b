"""Runtimes: what turns a preprocessed batch into class probabilities, chosen at run time.

* `OnnxRuntime` — ONNX Runtime on the CPU (the fastest CPU path; needs the bundle's `model.onnx`).
* `TorchRuntime` — PyTorch on CUDA (bf16 autocast, channels_last, pinned host memory, optional
  `torch.compile`) or on the CPU when there is no ONNX export. Tests run this same class on the CPU.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import torch

from model.bundle import ModelBundle

_LOGGER = logging.getLogger(__name__)


class Runtime(Protocol):
    """Probabilities for a batch of preprocessed images (N, C, H, W)."""

    name: str

    def probabilities(self, batch: torch.Tensor) -> np.ndarray: ...


def _activate(logits: np.ndarray, head: str) -> np.ndarray:
    logits = logits.astype(np.float32, copy=False)
    if head == "sigmoid":
        result: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return result
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probs


class TorchRuntime:
    """PyTorch inference on a device; on CUDA with bf16 autocast and channels_last."""

    def __init__(self, bundle: ModelBundle, device: torch.device, compile_model: bool = False) -> None:
        self.device = device
        self.head = bundle.meta.head
        self.cuda = device.type == "cuda"
        model = bundle.create_model().to(device)
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self._model: torch.nn.Module = torch.compile(model) if compile_model else model  # type: ignore[assignment]
        self.name = f"torch-{device.type}{'-bf16' if self.cuda else ''}"

    def probabilities(self, batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            if self.cuda:
                if batch.device.type == "cpu":
                    batch = batch.pin_memory()
                batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = self._model(batch)
            else:
                logits = self._model(batch.to(self.device))
            logits = logits.float()
            probs = logits.sigmoid() if self.head == "sigmoid" else logits.softmax(dim=-1)
        result: np.ndarray = probs.cpu().numpy()
        return result


class OnnxRuntime:
    """ONNX Runtime on the CPU, using all cores for one batch at a time."""

    def __init__(self, bundle: ModelBundle, threads: int = 0) -> None:
        import onnxruntime as ort

        if bundle.onnx_path is None:
            raise FileNotFoundError(f"{bundle.path} has no model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads sleep instead of spinning: the bot's event loop and decoders share these cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(bundle.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self.head = bundle.meta.head
        self.name = "onnxruntime-cpu"

    def probabilities(self, batch: torch.Tensor) -> np.ndarray:
        array = batch.detach().cpu().numpy().astype(np.float32, copy=False)
        logits = self._session.run(None, {self._input: array})[0]
        return _activate(np.asarray(logits), self.head)


def make_runtime(bundle: ModelBundle, device: torch.device, prefer: str = "auto") -> Runtime:
    """`auto`: ONNX Runtime on the CPU when the bundle has an export, PyTorch otherwise and on CUDA."""
    if prefer not in {"auto", "onnx", "torch"}:
        raise ValueError(f"runtime must be auto, onnx or torch, not {prefer!r}")
    if device.type == "cpu" and prefer != "torch" and bundle.onnx_path is not None:
        return OnnxRuntime(bundle)
    if prefer == "onnx":
        raise FileNotFoundError(f"{bundle.path} has no model.onnx for ONNX Runtime")
    return TorchRuntime(bundle, device)
