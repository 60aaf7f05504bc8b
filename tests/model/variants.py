"""A second real bundle for switching tests: the default model with one food's label pushed to the top."""

from __future__ import annotations

from pathlib import Path

from model.bundle import ModelBundle, load_bundle, save_bundle
from model.onnx_export import export_onnx


def variant_bundle(
    base: ModelBundle, target: Path, food_key: str, *, boost: float = 40.0, image_size: int | None = None
) -> ModelBundle:
    """`base` with the bias of `food_key`'s first label raised by `boost` (every photo then shows that
    food), exported to ONNX like a served bundle; `image_size` changes its preprocessing too."""
    weights = base.state_dict()
    column = next(n for n, label in enumerate(base.meta.labels) if base.meta.food_of(label) == food_key)
    weights["classifier.bias"][column] += boost
    meta = base.meta.model_copy(update={"provenance": {**base.meta.provenance, "variant": food_key}})
    if image_size is not None:
        config = meta.data_config.model_copy(update={"input_size": (3, image_size, image_size)})
        meta = meta.model_copy(update={"data_config": config})
    bundle = save_bundle(target, weights, meta)
    export_onnx(bundle)
    return load_bundle(target)
