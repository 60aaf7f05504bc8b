"""Getting a run ready: seeding, the data and its loaders, the labels' foods, the model on its device.

`prepare` does everything a run (or the LR range test alone) needs before its first step, and returns it
as a `Setup`, so that `train` and `find_lr` share one path from flags to batches.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from meallog.nutrition import NutritionTable, default_table
from model.bundle import DataConfig
from model.device import resolve_device
from model.preprocess import build_transform
from training.backbone import Backbone, build_model, head_prefix, resolve_backbone
from training.config import Head, Report, TrainConfig, TrainingError
from training.datasets import Batch, ImageDataset, LabelledData, Sample, collate, load_dataset
from training.export import data_config_of
from training.losses import Criterion, make_criterion
from training.mapping import LabelMapping, resolve_mapping
from training.mixing import Mixer

# -- seeding ---------------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _deterministic() -> None:
    """cuDNN picks the same kernels every time, so a resumed CUDA run repeats the uninterrupted one."""
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def progress_bar(config: TrainConfig, iterable: Iterable[Any], **kwargs: Any) -> Any:
    """A tqdm bar over `iterable`; `config.progress` None leaves tqdm to show it on terminals only."""
    from tqdm.auto import tqdm

    disable = None if config.progress is None else not config.progress
    return tqdm(iterable, disable=disable, dynamic_ncols=True, **kwargs)


# -- the setup -------------------------------------------------------------------------------------------


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
    #: The classifier's parameter name prefix (see `training.backbone.head_prefix`).
    prefix: str
    data_config: DataConfig
    device: torch.device
    amp: bool
    channels_last: bool
    train_loader: DataLoader[Any]
    val_loader: DataLoader[Any] | None
    test_loader: DataLoader[Any] | None
    #: The training data order; reseeded every epoch.
    generator: torch.Generator
    criterion: Criterion
    mixer: Mixer

    def autocast(self) -> torch.autocast:
        """bf16 autocast on CUDA; on the CPU the same context, switched off."""
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def to_device(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch on the run's device, channels_last where that is faster."""
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
    """A loader over `samples`; the training one shuffles (or samples classes evenly) from `generator`."""
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
        persistent_workers=False,  # workers reseeded from the generator every epoch (see training.train)
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
    """The dataset without its unlabelled images (a softmax head has no class for them)."""

    def keep(samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
        return tuple(s for s in samples if s.targets)

    return replace(data, train=keep(data.train), val=keep(data.val), test=keep(data.test))
