"""The model a run trains: a timm architecture with a new head, its body from the chosen starting weights.

`resolve_backbone` reads where the weights come from (the default bundle, another bundle, a weights file,
timm's hub or nothing) once, so the run can record it in the bundle's provenance; `build_model` then puts
them into a model whose classifier fits the dataset's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file

from model.bundle import BundleError, DataConfig, load_bundle
from training.config import DEFAULT_ARCH, TrainConfig, TrainingError


def head_prefix(model: torch.nn.Module) -> str:
    """The parameter name prefix of the classifier layer (`classifier`, `head.fc`, `fc`, …)."""
    classifier = cast(Any, model).get_classifier()
    for name, module in model.named_modules():
        if module is classifier:
            return str(name)
    raise TrainingError(f"{type(model).__name__} has no classifier layer timm can name")


def _weights_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file, unwrapped from the usual training-script envelopes and DataParallel."""
    if path.suffix == ".safetensors":
        return load_file(path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise TrainingError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in loaded.items()}


@dataclass
class Backbone:
    """Where the starting weights come from (None: timm's hub, or random), and what to record about it."""

    state: dict[str, torch.Tensor] | None
    hub: bool
    provenance: dict[str, Any]
    #: The preprocessing the weights were trained with, when a bundle says so.
    data_config: DataConfig | None = None


def resolve_backbone(config: TrainConfig) -> Backbone:
    """Read the starting weights the config names (see `TrainConfig.backbone`)."""
    spec = config.backbone
    if spec == "auto":
        spec = "default" if config.arch == DEFAULT_ARCH else "hub"
    if spec == "none":
        return Backbone(None, False, {"kind": "random init"})
    if spec == "hub":
        return Backbone(None, True, {"kind": "timm hub", "arch": config.arch})
    if spec == "default":
        if config.default_bundle_dir is None:
            raise TrainingError("--backbone default needs the default bundle's folder (DATA_DIR)")
        from model.default_bundle import ensure_default_bundle

        ensure_default_bundle(config.default_bundle_dir)
        spec = str(config.default_bundle_dir)
    path = Path(spec)
    if path.is_dir():
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            raise TrainingError(str(exc)) from exc
        if bundle.meta.arch != config.arch:
            raise TrainingError(
                f"{path} is a {bundle.meta.arch} bundle; train with --arch {bundle.meta.arch}"
            )
        info = {"kind": "bundle", "path": str(path), "bundle_id": bundle.id, "from": bundle.meta.provenance}
        return Backbone(bundle.state_dict(), False, info, bundle.meta.data_config)
    if path.is_file():
        from model.bundle import weights_digest

        info = {"kind": "weights file", "file": path.name, "sha256": weights_digest(path)}
        return Backbone(_weights_file(path), False, info)
    raise TrainingError(f"--backbone {spec}: no such bundle folder or weights file (or: default, hub, none)")


def build_model(arch: str, num_classes: int, backbone: Backbone) -> torch.nn.Module:
    """The timm model with a new head of `num_classes`, its body loaded from the backbone."""
    import timm

    try:
        model = timm.create_model(arch, pretrained=backbone.hub, num_classes=num_classes)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise TrainingError(f"timm has no architecture {arch!r}") from exc
        raise
    except OSError as exc:  # the hub download failed (offline)
        raise TrainingError(
            f"downloading {arch} weights from the hub failed ({exc}); use --backbone default, a bundle "
            "folder or a local weights file"
        ) from exc
    if backbone.state is not None:
        prefix = head_prefix(model)
        own = model.state_dict()
        body = {k: v for k, v in backbone.state.items() if not k.startswith(prefix + ".")}
        misfits = [k for k, v in body.items() if k in own and own[k].shape != v.shape]
        missing, unexpected = model.load_state_dict(
            {k: v for k, v in body.items() if k not in misfits}, strict=False
        )
        missing = [k for k in missing if not k.startswith(prefix + ".")]
        if misfits or missing or unexpected:
            raise TrainingError(
                f"the backbone weights do not fit {arch}: {len(missing)} missing, {len(unexpected)} "
                f"unexpected, {len(misfits)} of another shape (e.g. {(missing + unexpected + misfits)[:3]})"
            )
    if backbone.state is not None or backbone.hub:
        # A new head on trained features starts at zero: every class equally likely, and no large random
        # logits whose gradients would shake the pretrained body in the first steps (as BiT does).
        for param in cast(Any, model).get_classifier().parameters():
            torch.nn.init.zeros_(param)
    return model


def set_body_frozen(model: torch.nn.Module, prefix: str, frozen: bool) -> None:
    """Freeze (or thaw) everything but the classifier; frozen layers also keep their BatchNorm statistics."""
    for name, param in model.named_parameters():
        if not name.startswith(prefix + "."):
            param.requires_grad_(not frozen)
    if frozen and model.training:
        for name, module in model.named_modules():
            inside_head = name == prefix or name.startswith(prefix + ".")
            ancestor = name == "" or prefix.startswith(name + ".")
            if not inside_head and not ancestor:
                module.eval()
