"""Export: a trained model as a bundle (DESIGN.md, "Model bundle"), plus its ONNX graph.

The ONNX graph comes from `model.onnx_export` (the one exporter the runtimes and the default bundle use:
``input`` float32 NCHW at the bundle's input size with a dynamic batch axis, ``logits`` out). Here it is
also checked: a batch of a size other than the traced one runs through ONNX Runtime and PyTorch, and the
logits must agree, so a bundle never ships a graph that computes something else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from model.bundle import BundleMeta, DataConfig, ModelBundle, load_bundle, save_bundle
from model.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

_LOGGER = logging.getLogger(__name__)

#: Largest difference between the ONNX Runtime and PyTorch logits that still counts as the same model.
ONNX_TOLERANCE = 1e-3


class ExportError(RuntimeError):
    """The ONNX graph does not compute what the PyTorch model does."""


def data_config_of(config: dict[str, Any]) -> DataConfig:
    """A bundle DataConfig from timm's `resolve_model_data_config` dict."""
    return DataConfig(
        input_size=tuple(int(v) for v in config["input_size"]),  # type: ignore[arg-type]
        interpolation=str(config.get("interpolation", "bicubic")),
        mean=tuple(float(v) for v in config["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in config["std"]),  # type: ignore[arg-type]
        crop_pct=float(config.get("crop_pct", 0.875)),
        crop_mode=str(config.get("crop_mode", "center")),
    )


def export_bundle(path: Path, model: torch.nn.Module, meta: BundleMeta, *, onnx: bool = True) -> ModelBundle:
    """Write the bundle (weights and bundle.json, atomically), then `model.onnx` beside them, checked."""
    bundle = save_bundle(path, model.state_dict(), meta)
    if onnx:
        onnx_path = export_onnx(bundle)
        try:
            check_onnx(bundle)
        except ExportError:
            onnx_path.unlink(missing_ok=True)
            raise
    return load_bundle(bundle.path)


def check_onnx(bundle: ModelBundle, batch_size: int = 3) -> float:
    """Largest ONNX Runtime vs PyTorch logit difference on a random batch; raises past the tolerance."""
    import onnxruntime as ort

    if bundle.onnx_path is None:
        raise ExportError(f"{bundle.path} has no model.onnx")
    model = bundle.create_model()
    shape = bundle.meta.data_config.input_size
    batch = torch.randn(batch_size, *shape, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(str(bundle.onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})
    with torch.inference_mode():
        want = model(batch).numpy()
    if got.shape != want.shape:
        raise ExportError(f"ONNX gives logits of shape {got.shape}, PyTorch {want.shape}")
    diff = float(abs(got - want).max())
    if diff > ONNX_TOLERANCE:
        raise ExportError(f"ONNX and PyTorch logits differ by up to {diff:.2e} (> {ONNX_TOLERANCE})")
    return diff
