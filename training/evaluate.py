"""`foodbot evaluate BUNDLE DATA`: how well a bundle does on a dataset, exactly as the bot would see it.

Images go through the bundle's own preprocessing (`model.preprocess`, from its `data_config`) and the
safe decoder; a multi-label (sigmoid) bundle is scored at the thresholds stored in it. Dataset labels
are matched to the bundle's labels by name; images whose labels the bundle does not have are counted
and left out (single-label), or their unknown labels ignored (multi-label).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from model.bundle import ModelBundle, load_bundle
from model.device import resolve_device
from model.preprocess import build_transform
from training.datasets import ImageDataset, LabelledData, Sample, collate, load_dataset
from training.metrics import multi_label_metrics, single_label_metrics, summary_lines


@dataclass(frozen=True)
class Evaluation:
    """The figures for one bundle on one split of a dataset."""

    bundle_id: str
    split: str
    multi_label: bool
    metrics: dict[str, Any]
    skipped_images: int
    unknown_labels: tuple[str, ...]

    def lines(self) -> list[str]:
        """A person-readable report."""
        head = [f"{self.bundle_id} on the {self.split} split"]
        if self.unknown_labels:
            shown = ", ".join(self.unknown_labels[:10])
            head.append(f"labels the bundle does not know ({len(self.unknown_labels)}): {shown}")
        if self.skipped_images:
            head.append(f"{self.skipped_images} images left out (none of their labels is in the bundle)")
        return head + summary_lines(self.metrics, self.multi_label)


def default_split(data: LabelledData) -> str:
    """The split a bundle is judged on: the test set when the layout has one, validation when it is given
    separately (COCO), else every image (a folder the bundle has never seen)."""
    if data.test:
        return "test"
    if data.layout == "coco" and data.val:
        return "val"
    return "all"


def _remap(samples: tuple[Sample, ...], data: LabelledData, bundle: ModelBundle) -> tuple[list[Sample], int]:
    column = {label: i for i, label in enumerate(bundle.meta.labels)}
    kept: list[Sample] = []
    skipped = 0
    for sample in samples:
        targets = tuple(column[data.labels[t]] for t in sample.targets if data.labels[t] in column)
        if not targets and (sample.targets or bundle.meta.head == "softmax"):
            skipped += 1
            continue
        kept.append(Sample(sample.path, targets))
    return kept, skipped


def evaluate_bundle(
    bundle_dir: Path | str,
    data: LabelledData | Path | str,
    *,
    split: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    workers: int = 0,
) -> Evaluation:
    """Score the bundle on a split of the dataset (see `default_split`)."""
    bundle = load_bundle(bundle_dir)
    if not isinstance(data, LabelledData):
        data = load_dataset(data, val_fraction=0.0)
    split = split or default_split(data)
    samples, skipped = _remap(data.split(split), data, bundle)
    labels = bundle.meta.labels
    unknown = tuple(label for label in data.labels if label not in set(labels))
    if not samples:
        raise ValueError(f"no image of the {split} split has a label the bundle knows")
    config = bundle.meta.data_config
    dataset = ImageDataset(samples, len(labels), build_transform(config), min_size=config.resize_size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    target_device = resolve_device(device)
    model = bundle.create_model().to(target_device)
    sigmoid = bundle.meta.head == "sigmoid"
    probs, targets = [], []
    with torch.inference_mode():
        for batch in loader:
            if batch is None:
                continue
            images, target = batch
            logits = model(images.to(target_device)).float()
            probs.append((logits.sigmoid() if sigmoid else logits.softmax(-1)).cpu().numpy())
            targets.append(target.numpy())
    all_probs, all_targets = np.concatenate(probs), np.concatenate(targets)
    if sigmoid:
        metrics = multi_label_metrics(all_probs, all_targets, labels, bundle.meta.thresholds)
    else:
        metrics = single_label_metrics(all_probs, all_targets.argmax(axis=1), labels)
    return Evaluation(bundle.id, split, sigmoid, metrics, skipped, unknown)
