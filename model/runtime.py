"""Runtimes: what turns a preprocessed batch into class probabilities, chosen at run time.

* `OnnxRuntime` — ONNX Runtime on the CPU (the fastest CPU path; needs the bundle's `model.onnx`).
* `TorchRuntime` (`model.torch_runtime`) — PyTorch on CUDA (bf16 autocast, channels_last, pinned host
  memory, optional `torch.compile`) or on the CPU when there is no ONNX export. Tests run this same
  class on the CPU.

This module needs only numpy: PyTorch is imported when `make_runtime` chooses it, so a CPU process
serving an ONNX bundle does without its few hundred MB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias

import numpy as np

from model.bundle import ModelBundle

if TYPE_CHECKING:
    import torch

_LOGGER = logging.getLogger(__name__)


Pixels: TypeAlias = "np.ndarray | torch.Tensor"
"""One preprocessed photo (C, H, W): an array from the CPU preprocessing, a tensor from the device's."""

Batch: TypeAlias = "Pixels | Sequence[Pixels]"
"""Preprocessed photos: one stacked (N, C, H, W) array or tensor, or the photos one by one.

Runtimes take either because stacking is not free for all of them: on the CPU a ``torch.stack`` wakes
PyTorch's OpenMP threads, which then spin for a while and took about a quarter of the cores from ONNX
Runtime (measured: 7.8 against 5.9 ms per photo), so the ONNX path never asks PyTorch to compute.
"""


#: The ONNX export's second output: the photo's pooled pre-logit features (`model.embedding_model`).
EMBEDDING_NAME = "embedding"


class Outputs(NamedTuple):
    """One forward pass over a batch: class probabilities (N, classes) and embeddings (N, features).

    `embeddings` are the raw pooled features, float32, not yet normalised; None from an ONNX export
    made before embeddings existed (the photos are then recognized without the memory of corrections).
    """

    probs: np.ndarray
    embeddings: np.ndarray | None


class Runtime(Protocol):
    """Probabilities and embeddings for a batch of preprocessed images."""

    name: str
    #: How many batches a server should hand over at once: 2 where a second batch can fill the cores
    #: while the first one's last photos finish, 1 where batches must run one after the other.
    pipeline_depth: int

    def forward(self, batch: Batch) -> Outputs: ...


def has_embedding(onnx_path: Path) -> bool:
    """Whether an ONNX export has the embedding output (exports before the memory of corrections did not)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return EMBEDDING_NAME in {output.name for output in session.get_outputs()}


def _activate(logits: np.ndarray, head: str) -> np.ndarray:
    logits = logits.astype(np.float32, copy=False)
    if head == "sigmoid":
        result: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return result
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probs


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxRuntime:
    """ONNX Runtime on the CPU: one single-threaded session call per core, fed photo by photo.

    Why not one call with an intra-op thread per core (ORT's default)? Measured on the 2-core box with
    tf_efficientnet_lite0 at 224 px: one 2-thread call peaks at 127-143 images/s, two concurrent 1-thread
    calls at 160-175, best at one photo per call (larger chunks lose cache locality). A multi-threaded
    call also waits at every operator for its slowest thread, so when decoders take a core for a moment
    the whole batch stalls; independent single-threaded calls just carry on. A batch is therefore split
    into chunks of `chunk` photos that `threads` workers take in turn (``session.run`` is thread-safe).
    """

    def __init__(self, bundle: ModelBundle, threads: int = 0, chunk: int = 1) -> None:
        import onnxruntime as ort

        if bundle.onnx_path is None:
            raise FileNotFoundError(f"{bundle.path} has no model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(bundle.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        outputs = [output.name for output in self._session.get_outputs()]
        self.has_embedding = EMBEDDING_NAME in outputs
        if not self.has_embedding:
            _LOGGER.warning("%s has no embedding output: photos are ranked without memory", bundle.onnx_path)
        self.head = bundle.meta.head
        self.threads = threads or cpu_cores()
        self.chunk = max(1, chunk)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="foodbot-onnx")
        self.name = "onnxruntime-cpu"
        # A second batch queues its photos behind the first's in the same pool, so no core waits for the
        # slowest photo of a batch.
        self.pipeline_depth = 2

    def _run(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self._session.run(None, {self._input: array})
        return np.asarray(outputs[0]), (np.asarray(outputs[1]) if self.has_embedding else None)

    def forward(self, batch: Batch) -> Outputs:
        if isinstance(batch, Sequence):
            images = [_float32(image) for image in batch]
        else:
            images = list(_float32(batch))
        chunks = [np.stack(images[i : i + self.chunk]) for i in range(0, len(images), self.chunk)]
        if self.threads == 1 or len(chunks) == 1:
            results = [self._run(chunk) for chunk in chunks]
        else:
            results = list(self._pool.map(self._run, chunks))
        probs = _activate(np.concatenate([logits for logits, _ in results]), self.head)
        if not self.has_embedding:
            return Outputs(probs, None)
        return Outputs(probs, np.concatenate([e for _, e in results if e is not None]).astype(np.float32))


def _float32(pixels: Pixels) -> np.ndarray:
    """Photos as a float32 array, sharing their memory when they already are (a CPU tensor too: no
    PyTorch op)."""
    return np.asarray(pixels, dtype=np.float32)


def make_runtime(
    bundle: ModelBundle, device: str, prefer: str = "auto", compile_model: bool = False
) -> Runtime:
    """`auto`: ONNX Runtime on the CPU when the bundle has an export, PyTorch otherwise and on CUDA.

    `device` is `model.device.device_name`'s answer. `compile_model` (TORCH_COMPILE) applies to PyTorch
    only; ONNX Runtime has its own graph optimizer.
    """
    if prefer not in {"auto", "onnx", "torch"}:
        raise ValueError(f"runtime must be auto, onnx or torch, not {prefer!r}")
    if device == "cpu" and prefer != "torch" and bundle.onnx_path is not None:
        if compile_model:
            _LOGGER.info("TORCH_COMPILE is for the PyTorch runtime; ONNX Runtime serves the CPU")
        return OnnxRuntime(bundle)
    if prefer == "onnx":
        raise FileNotFoundError(f"{bundle.path} has no model.onnx for ONNX Runtime")
    from model.torch_runtime import TorchRuntime

    return TorchRuntime(bundle, device, compile_model=compile_model)
