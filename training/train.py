"""Fine-tuning a timm classifier on a dataset and exporting it as a model bundle.

One code path for every device: the device is chosen at run time (`DEVICE`), and on CUDA the same loop
runs under bf16 autocast with channels_last tensors. A run writes into its own folder:

    RUN_DIR/bundle/          the model bundle (MODEL_DIR for the bot), with model.onnx
    RUN_DIR/last.pt          the checkpoint after each epoch (model, optimizer, schedule, history)
    RUN_DIR/best.pt          the weights of the best epoch on the validation metric
    RUN_DIR/curves.png       loss and validation metric per epoch
    RUN_DIR/history.json     the same figures as JSON; metrics.json the final evaluation in full
    RUN_DIR/label_foods.json the label → food mapping used
    RUN_DIR/lr_find.png      when the LR range test ran

Determinism: every epoch starts by seeding Python, NumPy and torch with `seed + epoch`, and the data
order comes from a generator seeded the same way, so a run resumed after epoch k continues exactly as
the uninterrupted run would have (bit for bit on the CPU; on CUDA cuDNN runs in deterministic mode).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.utils.data import DataLoader, WeightedRandomSampler

from meallog.nutrition import NutritionTable, default_table
from model.bundle import BundleError, BundleMeta, DataConfig, load_bundle
from model.device import resolve_device
from model.preprocess import build_transform
from training.datasets import (
    Batch,
    ImageDataset,
    LabelledData,
    Sample,
    collate,
    load_dataset,
)
from training.export import data_config_of, export_bundle
from training.lr_find import LRFindResult, lr_range_test
from training.mapping import LabelMapping, resolve_mapping
from training.metrics import multi_label_metrics, single_label_metrics, tune_thresholds
from training.plots import plot_curves, plot_lr_find

_LOGGER = logging.getLogger(__name__)

DEFAULT_ARCH = "tf_efficientnet_lite0"
#: Thresholds every trained bundle carries for the bot (see model/recognizer.py and bot/services.py).
FOOD_MASS_THRESHOLD = 0.5
UNSURE_THRESHOLD = 0.35
CHECKPOINT_FORMAT = 1

Head = Literal["softmax", "sigmoid"]
Report = Callable[[str], None]


class TrainingError(RuntimeError):
    """A run that cannot start or go on; the message says what to change."""


@dataclass
class TrainConfig:
    """Everything a run depends on; `foodbot train` fills it from its flags."""

    data: Path
    out: Path
    layout: str = "auto"
    val_data: Path | None = None
    val_fraction: float = 0.2
    mapping: Path | None = None
    arch: str = DEFAULT_ARCH
    #: "auto" (the default bundle for its own arch, else the hub), "default", "hub", "none", or a
    #: bundle directory or weights file (.safetensors, .pth, .pt, .bin).
    backbone: str = "auto"
    default_bundle_dir: Path | None = None
    image_size: int | None = None
    epochs: int = 10
    batch_size: int = 32
    #: None: run the LR range test first and train at its suggestion.
    lr: float | None = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.1
    head: str = "auto"
    multilabel_loss: str = "asl"
    auto_augment: str | None = "rand-m9-mstd0.5-inc1"
    mixup: float = 0.0
    cutmix: float = 0.0
    accum_steps: int = 1
    freeze_epochs: int = 0
    balanced: bool = False
    seed: int = 0
    device: str = "auto"
    workers: int = field(default_factory=lambda: min(8, os.cpu_count() or 1))
    patience: int | None = None
    resume: bool = False
    onnx: bool = True
    lr_find_steps: int = 100
    progress: bool | None = None

    def check(self) -> None:
        """Refuse settings that cannot work, before any data is read."""
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if self.accum_steps < 1:
            problems.append("--accum must be at least 1")
        if self.lr is not None and not self.lr > 0:
            problems.append("--lr must be above 0")
        if self.head not in ("auto", "softmax", "sigmoid"):
            problems.append("--head must be auto, softmax or sigmoid")
        if self.multilabel_loss not in ("asl", "bce"):
            problems.append("--loss must be asl or bce")
        if not 0 <= self.label_smoothing < 1:
            problems.append("--label-smoothing must be at least 0 and below 1")
        if self.mixup < 0 or self.cutmix < 0:
            problems.append("--mixup and --cutmix must not be negative")
        if self.image_size is not None and self.image_size < 32:
            problems.append("--image-size must be at least 32")
        if self.patience is not None and self.patience < 1:
            problems.append("--patience must be at least 1")
        if problems:
            raise TrainingError("; ".join(problems))


@dataclass
class TrainResult:
    """What a finished run produced."""

    bundle_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    mapping: LabelMapping
    images_per_s: float


# -- seeding and devices ---------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _deterministic() -> None:
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


# -- the model -------------------------------------------------------------------------------------------


def head_prefix(model: torch.nn.Module) -> str:
    """The parameter name prefix of the classifier layer (`classifier`, `head.fc`, `fc`, …)."""
    classifier = cast(Any, model).get_classifier()
    for name, module in model.named_modules():
        if module is classifier:
            return str(name)
    raise TrainingError(f"{type(model).__name__} has no classifier layer timm can name")


def _weights_file(path: Path) -> dict[str, torch.Tensor]:
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


# -- losses and mixing -----------------------------------------------------------------------------------


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy against (possibly mixed, multi-hot) targets, normalised and label-smoothed."""
    targets = targets / targets.sum(dim=-1, keepdim=True).clamp(min=1e-6)
    if smoothing:
        targets = targets * (1 - smoothing) + smoothing / targets.shape[-1]
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
) -> torch.Tensor:
    """Asymmetric loss for multi-label data (Ridnik et al., 2021).

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


def make_criterion(
    head: Head, multilabel_loss: str, smoothing: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if head == "softmax":
        return lambda logits, targets: soft_cross_entropy(logits, targets, smoothing)
    if multilabel_loss == "bce":
        return lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets)
    return asymmetric_loss


class Mixer:
    """Mixup and CutMix on a batch and its targets (pairing each image with the batch reversed).

    With both on, each batch takes one of the two at even odds. Targets mix in the same proportion as
    the pixels, so they work for softmax and sigmoid heads alike.
    """

    def __init__(self, mixup: float, cutmix: float, seed: int) -> None:
        self.mixup = mixup
        self.cutmix = cutmix
        self.rng = np.random.default_rng(seed)

    @property
    def active(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
            lam = 1 - (y1 - y0) * (x1 - x0) / (height * width)
        else:
            images = images * lam + partner_images * (1 - lam)
        return images, targets * lam + partner_targets * (1 - lam)


# -- the schedule ----------------------------------------------------------------------------------------


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warm-up to the full rate, then a cosine down to `min_ratio` of it (per optimizer step)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights only; biases and normalisation scales are left alone."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# -- setup -----------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """A run ready to go: data, model, loaders and the device-specific switches."""

    config: TrainConfig
    data: LabelledData
    labels: tuple[str, ...]
    head: Head
    mapping: LabelMapping
    backbone: Backbone
    model: torch.nn.Module
    prefix: str
    data_config: DataConfig
    device: torch.device
    amp: bool
    channels_last: bool
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any] | None
    test_loader: DataLoader[Any] | None
    generator: torch.Generator
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    mixer: Mixer

    def autocast(self) -> torch.autocast:
        """bf16 autocast on CUDA; on the CPU the same context, switched off."""
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def to_device(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = batch
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        images = images.to(self.device, non_blocking=True, memory_format=fmt)
        return images, targets.to(self.device, non_blocking=True)

    def train_inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch on the device, mixed when mixup/cutmix are on."""
        images, targets = self.to_device(batch)
        return self.mixer(images, targets)


def safe_auto_augment(policy: str | None) -> str | None:
    """A RandAugment policy with its magnitude capped at 9 unless it sets its own cap (`mmax`).

    With magnitude noise (`mstd`) timm's RandAugment can reach magnitude 10, where "posterize" keeps 0
    bits; Pillow 13 refuses that with a ValueError, which would end a run hours in. At 9 it keeps 1 bit.
    """
    if policy and policy.startswith("rand") and "-mmax" not in policy:
        return f"{policy}-mmax9"
    return policy


def train_transform(config: DataConfig, auto_augment: str | None) -> Any:
    """timm's training augmentation (random resized crop, flip, RandAugment) for the bundle's input."""
    from timm.data.transforms_factory import create_transform

    return create_transform(
        input_size=config.input_size,
        is_training=True,
        auto_augment=safe_auto_augment(auto_augment),
        interpolation=config.interpolation,
        mean=config.mean,
        std=config.std,
    )


def _loader(
    samples: tuple[Sample, ...],
    num_classes: int,
    transform: Any,
    config: TrainConfig,
    device: torch.device,
    min_size: int,
    *,
    train: bool = False,
    generator: torch.Generator | None = None,
) -> DataLoader[Any]:
    dataset = ImageDataset(samples, num_classes, transform, min_size=min_size)
    sampler = None
    if train and config.balanced:
        counts = np.zeros(num_classes)
        for sample in samples:
            counts[list(sample.targets)] += 1
        weights = [
            float(np.mean([1.0 / counts[t] for t in s.targets])) if s.targets else 1.0 / max(len(samples), 1)
            for s in samples
        ]
        sampler = WeightedRandomSampler(
            weights, num_samples=len(samples), replacement=True, generator=generator
        )
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=config.workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        drop_last=train and len(samples) > config.batch_size,
        persistent_workers=False,  # workers reseeded from the generator every epoch (module docstring)
    )


def prepare(config: TrainConfig, report: Report = print, table: NutritionTable | None = None) -> Setup:
    """Read the data, resolve the labels' foods and the backbone, and build the model and loaders."""
    config.check()
    _deterministic()
    data = load_dataset(
        config.data,
        config.layout,
        val_data=config.val_data,
        val_fraction=config.val_fraction,
        seed=config.seed,
    )
    report(data.summary())
    for note in data.notes:
        report(f"  note: {note}")
    head: Head
    if config.head == "auto":
        head = "sigmoid" if data.multi_label else "softmax"
    else:
        head = cast(Head, config.head)
    if head == "softmax":
        dropped = sum(1 for s in data.train + data.val + data.test if not s.targets)
        if dropped:
            report(f"  note: {dropped} images without a label left out (a softmax head needs one)")
            data = _with_labelled_only(data)
    if not data.train:
        raise TrainingError(f"{config.data}: no training images")
    mapping = resolve_mapping(data.labels, table or default_table(), config.mapping, data.layout)
    report(mapping.report())

    backbone = resolve_backbone(config)
    seed_everything(config.seed)  # the new head's initial weights
    model = build_model(config.arch, len(data.labels), backbone)
    from timm.data.config import resolve_model_data_config

    resolved = dict(resolve_model_data_config(model))
    if config.image_size is not None:
        resolved["input_size"] = (3, config.image_size, config.image_size)
    if backbone.data_config is not None:  # the statistics the backbone was trained with
        resolved.update(
            mean=backbone.data_config.mean,
            std=backbone.data_config.std,
            interpolation=backbone.data_config.interpolation,
        )
    data_config = data_config_of(resolved)

    device = resolve_device(config.device)
    cuda = device.type == "cuda"
    amp = cuda and torch.cuda.is_bf16_supported()
    model = model.to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(config.seed)
    eval_transform = build_transform(data_config)
    n = len(data.labels)
    min_size = data_config.resize_size
    train_loader = _loader(
        data.train,
        n,
        train_transform(data_config, config.auto_augment),
        config,
        device,
        min_size,
        train=True,
        generator=generator,
    )
    val_loader = _loader(data.val, n, eval_transform, config, device, min_size) if data.val else None
    test_loader = _loader(data.test, n, eval_transform, config, device, min_size) if data.test else None
    return Setup(
        config=config,
        data=data,
        labels=data.labels,
        head=head,
        mapping=mapping,
        backbone=backbone,
        model=model,
        prefix=head_prefix(model),
        data_config=data_config,
        device=device,
        amp=amp,
        channels_last=cuda,
        train_loader=train_loader,
        val_loader=val_loader,
        test_loader=test_loader,
        generator=generator,
        criterion=make_criterion(head, config.multilabel_loss, config.label_smoothing),
        mixer=Mixer(config.mixup, config.cutmix, config.seed),
    )


def _with_labelled_only(data: LabelledData) -> LabelledData:
    def keep(samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
        return tuple(s for s in samples if s.targets)

    return replace(data, train=keep(data.train), val=keep(data.val), test=keep(data.test))


def _bar(config: TrainConfig, iterable: Iterable[Any], **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    disable = None if config.progress is None else not config.progress
    return tqdm(iterable, disable=disable, dynamic_ncols=True, **kwargs)


# -- evaluation during training --------------------------------------------------------------------------


def predict_loader(
    setup: Setup, loader: DataLoader[Any], desc: str = "eval"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilities, targets and mean loss of the model over a loader (eval mode, no gradients)."""
    model = setup.model
    model.eval()
    probs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    total_loss, seen = 0.0, 0
    with torch.inference_mode():
        for batch in _bar(setup.config, loader, desc=desc, leave=False):
            if batch is None:
                continue
            images, target = setup.to_device(batch)
            with setup.autocast():
                logits = model(images)
            logits = logits.float()
            total_loss += float(setup.criterion(logits, target)) * len(images)
            seen += len(images)
            out = torch.sigmoid(logits) if setup.head == "sigmoid" else torch.softmax(logits, dim=-1)
            probs.append(out.cpu().numpy())
            targets.append(target.cpu().numpy())
    if not seen:
        return np.zeros((0, len(setup.labels))), np.zeros((0, len(setup.labels))), float("nan")
    return np.concatenate(probs), np.concatenate(targets), total_loss / seen


def score(
    head: Head,
    probs: np.ndarray,
    targets: np.ndarray,
    labels: tuple[str, ...],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """The full metrics for one split."""
    if head == "sigmoid":
        return multi_label_metrics(probs, targets, labels, thresholds)
    return single_label_metrics(probs, targets.argmax(axis=1), labels)


def headline(head: Head) -> str:
    """The validation metric that picks the best epoch and stops early."""
    return "mAP" if head == "sigmoid" else "top1"


# -- checkpoints -----------------------------------------------------------------------------------------


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class _State:
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_tie_break: float = 0.0
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped: bool = False
    train_images: int = 0
    train_seconds: float = 0.0


def _checkpoint(
    setup: Setup, optimizer: torch.optim.Optimizer, scheduler: Any, state: _State
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": setup.config.arch,
        "labels": list(setup.labels),
        "head": setup.head,
        "epochs": setup.config.epochs,
        "model": setup.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "state": asdict(state),
    }


def _restore(
    path: Path, setup: Setup, optimizer: torch.optim.Optimizer, scheduler: Any, report: Report
) -> _State:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a checkpoint this version can resume")
    theirs = (ckpt["arch"], tuple(ckpt["labels"]), ckpt["head"])
    ours = (setup.config.arch, setup.labels, setup.head)
    if theirs != ours:
        raise TrainingError(
            f"{path} is a run of another model or dataset ({theirs[0]}, {len(theirs[1])} labels)"
        )
    if ckpt["epochs"] != setup.config.epochs:
        raise TrainingError(
            f"{path} was planned for {ckpt['epochs']} epochs; resume with --epochs {ckpt['epochs']}"
        )
    setup.model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    state = _State(**ckpt["state"])
    report(f"resuming {path.parent} after epoch {state.epoch}")
    return state


# -- the run ---------------------------------------------------------------------------------------------


def find_lr(config: TrainConfig, report: Report = print, setup: Setup | None = None) -> LRFindResult:
    """The LR range test on the run's data and model; writes RUN_DIR/lr_find.png."""
    setup = setup or prepare(config, report)
    result = lr_range_test(
        setup.model,
        setup.train_loader,
        setup.criterion,
        setup.train_inputs,
        setup.autocast,
        steps=config.lr_find_steps,
        weight_decay=config.weight_decay,
        progress=lambda steps: _bar(config, steps, desc="lr find"),
    )
    plot = plot_lr_find(result.lrs, result.losses, result.suggestion, config.out / "lr_find.png")
    report(f"LR range test: suggested learning rate {result.suggestion:.2e} (plot: {plot})")
    return result


def train(
    config: TrainConfig,
    report: Report = print,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    table: NutritionTable | None = None,
) -> TrainResult:
    """Fine-tune, checkpointing every epoch, then export the best epoch's weights as a bundle."""
    config.out.mkdir(parents=True, exist_ok=True)
    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    if last_path.exists() and not config.resume:
        raise TrainingError(
            f"{config.out} already holds a run: pass --resume to continue it, or another --out"
        )
    setup = prepare(config, report, table)
    model = setup.model
    resuming = config.resume and last_path.exists()
    if config.lr is None:  # "auto"; a resumed run takes its rates from the checkpoint instead
        config.lr = 1e-3 if resuming else find_lr(config, report, setup).suggestion
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr)
    per_epoch = math.ceil(len(setup.train_loader) / config.accum_steps)
    warmup = min(round(config.warmup_epochs * per_epoch), per_epoch * config.epochs - 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(per_epoch * config.epochs, max(warmup, 0), config.min_lr_ratio)
    )
    state = _State()
    if resuming:
        state = _restore(last_path, setup, optimizer, scheduler, report)
    elif config.resume:
        report(f"nothing to resume in {config.out}; starting afresh")
    (config.out / "label_foods.json").write_text(json.dumps(setup.mapping.label_foods, indent=2) + "\n")
    metric = headline(setup.head)
    report(
        f"training {config.arch} ({setup.head}, {len(setup.labels)} labels) on {setup.device}"
        f"{' with bf16 autocast and channels_last' if setup.amp else ''}: {config.epochs} epochs, "
        f"batch {config.batch_size}x{config.accum_steps}, lr {scheduler.base_lrs[0]:.2e}, "
        f"{setup.data_config.image_size} px"
    )

    epochs = _bar(
        config, range(state.epoch, config.epochs), desc="epochs", initial=state.epoch, total=config.epochs
    )
    for epoch in epochs:
        if state.stopped:
            break
        record = _run_epoch(setup, optimizer, scheduler, state, epoch)
        if setup.val_loader is not None:
            probs, targets, val_loss = predict_loader(setup, setup.val_loader, desc="validate")
            thresholds = tune_thresholds(probs, targets, setup.labels) if setup.head == "sigmoid" else {}
            figures = score(setup.head, probs, targets, setup.labels, thresholds)
            record.update(val_loss=round(val_loss, 5), **{metric: figures[metric]})
            value, tie_break = float(figures[metric]), -val_loss
        else:
            value, tie_break = -float(record["train_loss"]), 0.0  # no validation: lowest training loss
        # A tie on the metric (common on small validation sets) goes to the lower validation loss.
        improved = state.best_metric is None or (value, tie_break) > (state.best_metric, state.best_tie_break)
        if improved:
            state.best_metric, state.best_tie_break = value, tie_break
            state.best_epoch, state.bad_epochs = epoch + 1, 0
            _atomic_save({"epoch": epoch + 1, "model": model.state_dict()}, best_path)
        else:
            state.bad_epochs += 1
        state.epoch = epoch + 1
        state.history.append(record)
        if config.patience is not None and state.bad_epochs >= config.patience:
            state.stopped = True
        _atomic_save(_checkpoint(setup, optimizer, scheduler, state), last_path)
        _write_history(config.out, state.history, metric)
        report(_epoch_line(record, config.epochs, metric, improved))
        if state.stopped:
            report(
                f"early stop: no better {metric} for {config.patience} epochs; "
                f"best was epoch {state.best_epoch}"
            )
        if on_epoch_end is not None:
            on_epoch_end(record)

    return _finish(setup, state, best_path, report)


def _run_epoch(
    setup: Setup, optimizer: torch.optim.Optimizer, scheduler: Any, state: _State, epoch: int
) -> dict[str, Any]:
    config, model = setup.config, setup.model
    seed_everything(config.seed + epoch)
    setup.generator.manual_seed(config.seed + epoch)
    setup.mixer.reseed(config.seed + epoch)
    model.train()
    set_body_frozen(model, setup.prefix, epoch < config.freeze_epochs)
    optimizer.zero_grad(set_to_none=True)
    total_loss, images_seen = 0.0, 0
    started = time.perf_counter()
    batches = len(setup.train_loader)
    for step, batch in enumerate(_bar(config, setup.train_loader, desc=f"epoch {epoch + 1}", leave=False)):
        if batch is not None:
            images, targets = setup.train_inputs(batch)
            with setup.autocast():
                logits = model(images)
            loss = setup.criterion(logits.float(), targets)
            torch.autograd.backward(loss / config.accum_steps)
            total_loss += float(loss.detach()) * len(images)
            images_seen += len(images)
        if (step + 1) % config.accum_steps == 0 or step + 1 == batches:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)
    seconds = time.perf_counter() - started
    state.train_images += images_seen
    state.train_seconds += seconds
    if not images_seen:
        raise TrainingError("no training image could be read")
    return {
        "epoch": epoch + 1,
        "train_loss": round(total_loss / images_seen, 5),
        "lr": optimizer.param_groups[0]["lr"],
        "images_per_s": round(images_seen / seconds, 1),
        "frozen": epoch < config.freeze_epochs,
    }


def _epoch_line(record: Mapping[str, Any], epochs: int, metric: str, improved: bool) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"train loss {record['train_loss']:.4f}"]
    if record.get("val_loss") is not None:
        parts.append(f"val loss {record['val_loss']:.4f}")
        parts.append(f"{metric} {record[metric]:.4f}{' *' if improved else ''}")
    parts.append(f"{record['images_per_s']:.0f} img/s")
    if record.get("frozen"):
        parts.append("(body frozen)")
    return "  ".join(parts)


def _write_history(out: Path, history: list[dict[str, Any]], metric: str) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    try:
        plot_curves(history, metric, out / "curves.png")
    except ImportError:
        _LOGGER.warning("matplotlib is not installed; curves.png not drawn")


def _finish(setup: Setup, state: _State, best_path: Path, report: Report) -> TrainResult:
    config = setup.config
    best = torch.load(best_path, map_location="cpu", weights_only=True)
    setup.model.load_state_dict(best["model"])
    metrics: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    if setup.val_loader is not None:
        probs, targets, _ = predict_loader(setup, setup.val_loader, desc="validate")
        if setup.head == "sigmoid":
            thresholds = tune_thresholds(probs, targets, setup.labels)
        metrics["val"] = score(setup.head, probs, targets, setup.labels, thresholds)
    if setup.test_loader is not None:
        probs, targets, _ = predict_loader(setup, setup.test_loader, desc="test")
        metrics["test"] = score(setup.head, probs, targets, setup.labels, thresholds)
    images_per_s = state.train_images / state.train_seconds if state.train_seconds else 0.0
    (config.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    meta = BundleMeta(
        arch=config.arch,
        labels=list(setup.labels),
        label_foods=setup.mapping.label_foods,
        head=setup.head,
        thresholds={**thresholds, "food_mass": FOOD_MASS_THRESHOLD, "unsure": UNSURE_THRESHOLD},
        data_config=setup.data_config,
        provenance=_provenance(setup, state),
        metrics={
            **{split: {k: v for k, v in m.items() if k != "per_class"} for split, m in metrics.items()},
            "best_epoch": state.best_epoch,
            "epochs_run": state.epoch,
            "train_images_per_s": round(images_per_s, 1),
            "device": str(setup.device),
        },
    )
    model = setup.model.to("cpu").to(memory_format=torch.contiguous_format).eval()
    bundle = export_bundle(config.out / "bundle", model, meta, onnx=config.onnx)
    report(f"best epoch {state.best_epoch}; bundle {bundle.id} written to {bundle.path}")
    return TrainResult(bundle.path, state.history, metrics, setup.mapping, images_per_s)


def _provenance(setup: Setup, state: _State) -> dict[str, Any]:
    config, data = setup.config, setup.data
    hyper = {
        k: v
        for k, v in asdict(config).items()
        if k
        not in ("data", "out", "val_data", "mapping", "default_bundle_dir", "workers", "progress", "resume")
    }
    return {
        "trained_by": "foodbot train",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backbone": setup.backbone.provenance,
        "dataset": {
            "layout": data.layout,
            "path": str(data.root),
            "labels": len(data.labels),
            "train_images": len(data.train),
            "val_images": len(data.val),
            "test_images": len(data.test),
            "notes": list(data.notes),
        },
        "label_mapping": setup.mapping.source,
        "unmapped_labels": list(setup.mapping.unmapped),
        "config": hyper,
        "device": str(setup.device),
        "bf16_autocast": setup.amp,
        "channels_last": setup.channels_last,
        "versions": {pkg: metadata.version(pkg) for pkg in ("torch", "timm")},
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
    }
