"""Datasets for training: four on-disk layouts read into one shape, and the torch Dataset over it.

Layouts (`load_dataset` detects them; `layout=` forces one):

* ``coco``: AIcrowd Food Recognition Benchmark / COCO style, an ``annotations.json`` (images,
  annotations, categories) beside the images (in ``images/`` or the same folder). Every annotation of an
  image counts, so a plate of rice, chicken and salad is one example with three labels. Train and
  validation come as separate folders (``--val-data``), or as ``train/`` and ``val/`` under one root;
  without a validation folder a seeded fraction of the images is held out.
* ``food101``: ``meta/classes.txt``, ``meta/train.txt``, ``meta/test.txt`` and ``images/<class>/<id>.jpg``.
  The official split is kept: test.txt is the test set, never trained on; a seeded fraction of train.txt
  is held out for validation (early stopping), the rest is trained on.
* ``folder``: ``<root>/<class>/*.jpg``, split by a seeded fraction, stratified by class.
* ``corrections``: what ``foodbot export-corrections`` writes (``manifest.json`` and ``photos/``);
  split like the folder layout.

Images are read through `model.images.decode_image`, the one safe decoder; an unreadable file is
skipped with a warning instead of stopping a run of hours.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image

from model.images import ImageDecodeError, decode_image

_LOGGER = logging.getLogger(__name__)

Layout = Literal["coco", "food101", "folder", "corrections"]
LAYOUTS: tuple[Layout, ...] = ("coco", "food101", "folder", "corrections")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".heic", ".heif"})
ANNOTATIONS_FILE = "annotations.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "foodbot-corrections"


class DatasetError(ValueError):
    """A dataset that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One image and the indices of its labels (empty: an image with none of the labels)."""

    path: Path
    targets: tuple[int, ...]


@dataclass(frozen=True)
class LabelledData:
    """A dataset read from disk: its labels and the train / validation / test samples.

    `multi_label` is true when some image carries more than one label (a sigmoid head then fits);
    `display_names` holds readable names where the layout has them (COCO's `name_readable`); `notes`
    lists what was skipped and why, for the report.
    """

    layout: Layout
    root: Path
    labels: tuple[str, ...]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...] = ()
    multi_label: bool = False
    display_names: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def split(self, name: str) -> tuple[Sample, ...]:
        """A split by name: "train", "val", "test" or "all" (every sample once)."""
        if name == "all":
            return self.train + self.val + self.test
        if name in ("train", "val", "test"):
            samples: tuple[Sample, ...] = getattr(self, name)
            return samples
        raise ValueError(f"split must be train, val, test or all, not {name!r}")

    def counts(self, samples: Sequence[Sample]) -> list[int]:
        """How many of `samples` carry each label, in label order."""
        counts = [0] * len(self.labels)
        for sample in samples:
            for target in sample.targets:
                counts[target] += 1
        return counts

    def summary(self) -> str:
        """One line: layout, labels and split sizes."""
        kind = "multi-label" if self.multi_label else "single-label"
        parts = [f"{len(self.train)} train", f"{len(self.val)} val"]
        if self.test:
            parts.append(f"{len(self.test)} test")
        return f"{self.layout} dataset at {self.root}: {len(self.labels)} labels ({kind}), " + ", ".join(
            parts
        )


# -- splitting ------------------------------------------------------------------------------------------


def split_by_fraction(
    samples: Iterable[Sample], val_fraction: float, seed: int
) -> tuple[tuple[Sample, ...], tuple[Sample, ...]]:
    """Hold out `val_fraction` of the samples, per label (by first label), the same way for the same seed.

    Every label with at least two images gets at least one in validation and keeps at least one for
    training, so that small datasets still validate every class. The outcome does not depend on the
    order the files were listed in.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"the validation fraction must be at least 0 and below 1, not {val_fraction}")
    groups: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.targets[0] if sample.targets else -1].append(sample)
    rng = random.Random(seed)
    train: list[Sample] = []
    val: list[Sample] = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda s: str(s.path))
        rng.shuffle(group)
        n_val = round(len(group) * val_fraction)
        if val_fraction > 0 and len(group) >= 2:
            n_val = min(max(n_val, 1), len(group) - 1)
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    order = lambda s: str(s.path)  # noqa: E731
    return tuple(sorted(train, key=order)), tuple(sorted(val, key=order))


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


# -- folders --------------------------------------------------------------------------------------------


def load_folder(root: Path, val_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """`<root>/<class>/*.jpg`: one label per image, the class folder's name."""
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    notes: list[str] = []
    labels: list[str] = []
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.iterdir() if _is_image(p))
        if not images:
            notes.append(f"{folder.name}/ has no images; not a class")
            continue
        index = len(labels)
        labels.append(folder.name)
        samples.extend(Sample(path, (index,)) for path in images)
    loose = [p.name for p in root.iterdir() if _is_image(p)]
    if loose:
        notes.append(f"{len(loose)} images directly in {root} ignored (they belong in class folders)")
    if not labels:
        raise DatasetError(f"{root} has no class folders with images in them (<root>/<class>/*.jpg)")
    train, val = split_by_fraction(samples, val_fraction, seed)
    return LabelledData("folder", root, tuple(labels), train, val, notes=tuple(notes))


# -- Food-101 -------------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(
            f"{path} is missing (a Food-101 layout needs meta/classes.txt, train.txt, test.txt)"
        )
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_food101(root: Path, val_fraction: float = 0.1, seed: int = 0) -> LabelledData:
    """Food-101: classes from meta/classes.txt, the official split from meta/train.txt and meta/test.txt."""
    meta = root / "meta"
    labels = tuple(_read_lines(meta / "classes.txt"))
    index = {label: i for i, label in enumerate(labels)}
    if len(index) != len(labels):
        raise DatasetError(f"{meta / 'classes.txt'} names a class twice")
    notes: list[str] = []

    def read_split(name: str) -> list[Sample]:
        samples: list[Sample] = []
        missing = 0
        for line_no, entry in enumerate(_read_lines(meta / f"{name}.txt"), start=1):
            label, _, image_id = entry.partition("/")
            if label not in index or not image_id:
                raise DatasetError(
                    f"{meta / name}.txt line {line_no}: {entry!r} is not <class>/<id> of a class"
                )
            path = root / "images" / label / f"{image_id}.jpg"
            if not path.is_file():
                missing += 1
                continue
            samples.append(Sample(path, (index[label],)))
        if missing:
            notes.append(f"{missing} images listed in meta/{name}.txt are missing; skipped")
        return samples

    train_all = read_split("train")
    test = read_split("test")
    overlap = {s.path for s in train_all} & {s.path for s in test}
    if overlap:
        raise DatasetError(f"{len(overlap)} images are in both meta/train.txt and meta/test.txt")
    train, val = split_by_fraction(train_all, val_fraction, seed)
    return LabelledData("food101", root, labels, train, val, tuple(test), notes=tuple(notes))


# -- COCO / AIcrowd -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CocoSplit:
    folder: Path
    categories: dict[int, dict[str, Any]]
    images: list[tuple[Path, set[int]]]
    notes: list[str]


def _read_coco(folder: Path) -> _CocoSplit:
    path = folder / ANNOTATIONS_FILE
    if not path.is_file():
        raise DatasetError(f"{folder} has no {ANNOTATIONS_FILE}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        categories = {int(c["id"]): c for c in doc["categories"]}
        image_rows = doc["images"]
        annotations = doc.get("annotations", [])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path} is not COCO-style annotations: {exc}") from exc
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    by_image: dict[int, set[int]] = defaultdict(set)
    unknown = 0
    for ann in annotations:
        category = int(ann["category_id"])
        if category not in categories:
            unknown += 1
            continue
        by_image[int(ann["image_id"])].add(category)
    notes: list[str] = []
    if unknown:
        notes.append(f"{path}: {unknown} annotations name no known category; ignored")
    images: list[tuple[Path, set[int]]] = []
    missing = 0
    for row in image_rows:
        file = image_dir / str(row["file_name"])
        if not file.is_file():
            missing += 1
            continue
        images.append((file, by_image.get(int(row["id"]), set())))
    if missing:
        notes.append(f"{path}: {missing} images listed but not found in {image_dir}; skipped")
    return _CocoSplit(folder, categories, images, notes)


def _category_labels(categories: dict[int, dict[str, Any]]) -> tuple[dict[int, str], dict[str, str]]:
    """Category id → label (its `name`, made unique), and label → readable name where one is given."""
    names: dict[int, str] = {}
    display: dict[str, str] = {}
    seen: dict[str, int] = defaultdict(int)
    for cat_id in sorted(categories):
        seen[str(categories[cat_id].get("name", cat_id))] += 1
    for cat_id in sorted(categories):
        cat = categories[cat_id]
        name = str(cat.get("name", cat_id))
        label = name if seen[name] == 1 else f"{name}#{cat_id}"
        names[cat_id] = label
        readable = cat.get("name_readable")
        if readable:
            display[label] = str(readable)
    return names, display


def load_coco(
    train_dir: Path, val_dir: Path | None = None, val_fraction: float = 0.2, seed: int = 0
) -> LabelledData:
    """COCO-style annotations; each image's labels are ALL the categories annotated on it."""
    train_split = _read_coco(train_dir)
    val_split = _read_coco(val_dir) if val_dir is not None else None
    categories = dict(train_split.categories)
    if val_split is not None:
        for cat_id, cat in val_split.categories.items():
            known = categories.setdefault(cat_id, cat)
            if known.get("name") != cat.get("name"):
                raise DatasetError(
                    f"category {cat_id} is {known.get('name')!r} in {train_dir} "
                    f"but {cat.get('name')!r} in {val_dir}"
                )
    names, display = _category_labels(categories)
    column = {cat_id: i for i, cat_id in enumerate(sorted(categories))}
    labels = tuple(names[cat_id] for cat_id in sorted(categories))

    def samples_of(split: _CocoSplit) -> list[Sample]:
        return [Sample(path, tuple(sorted(column[c] for c in cats))) for path, cats in split.images]

    notes = list(train_split.notes)
    if val_split is not None:
        notes.extend(val_split.notes)
        train, val = tuple(samples_of(train_split)), tuple(samples_of(val_split))
    else:
        train, val = split_by_fraction(samples_of(train_split), val_fraction, seed)
    multi = any(len(s.targets) > 1 for s in train + val)
    unlabelled = sum(1 for s in train + val if not s.targets)
    if unlabelled:
        notes.append(f"{unlabelled} images have no annotations (negatives for a sigmoid head)")
    return LabelledData(
        "coco", train_dir, labels, train, val, multi_label=multi, display_names=display, notes=tuple(notes)
    )


# -- the bot's corrections ------------------------------------------------------------------------------


def load_corrections(root: Path, val_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """The export of `foodbot export-corrections`: photos with the foods people said they show."""
    path = root / MANIFEST_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(
            f"{root} has no {MANIFEST_FILE} (write one with foodbot export-corrections)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise DatasetError(f"{path} is not a foodbot corrections manifest")
    usable: list[tuple[Path, list[str]]] = []
    no_file = no_label = 0
    for photo in doc.get("photos", []):
        file = photo.get("file")
        if not file or not (root / file).is_file():
            no_file += 1
        elif not photo.get("labels"):
            no_label += 1
        else:
            usable.append((root / file, [str(label) for label in photo["labels"]]))
    # Only foods some downloaded photo shows become labels: a class without images cannot be learnt.
    labels = sorted({label for _, names in usable for label in names})
    column = {label: i for i, label in enumerate(labels)}
    samples = [Sample(path, tuple(dict.fromkeys(column[n] for n in names))) for path, names in usable]
    notes = []
    if no_file:
        notes.append(f"{no_file} photos were not downloaded (no bot token at export, or a failed download)")
    if no_label:
        notes.append(f"{no_label} photos only say which foods they do not show; skipped")
    if not samples:
        raise DatasetError(f"{path}: no downloaded photo with a food to learn from")
    train, val = split_by_fraction(samples, val_fraction, seed)
    multi = any(len(s.targets) > 1 for s in samples)
    return LabelledData("corrections", root, tuple(labels), train, val, multi_label=multi, notes=tuple(notes))


# -- detection ------------------------------------------------------------------------------------------


def detect_layout(root: Path) -> Layout:
    """Which layout a folder holds, from the files that mark each one."""
    if (root / "meta" / "classes.txt").is_file():
        return "food101"
    if (root / MANIFEST_FILE).is_file():
        return "corrections"
    if (root / ANNOTATIONS_FILE).is_file() or (root / "train" / ANNOTATIONS_FILE).is_file():
        return "coco"
    return "folder"


def load_dataset(
    root: Path | str,
    layout: str = "auto",
    *,
    val_data: Path | str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> LabelledData:
    """Read a dataset in any of the four layouts (`layout="auto"` detects it)."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root} does not exist")
    chosen = detect_layout(root) if layout == "auto" else layout
    if val_data is not None and chosen != "coco":
        raise DatasetError("a separate validation folder is only read for the coco layout")
    if chosen == "folder":
        return load_folder(root, val_fraction, seed)
    if chosen == "food101":
        return load_food101(root, val_fraction, seed)
    if chosen == "corrections":
        return load_corrections(root, val_fraction, seed)
    if chosen == "coco":
        if val_data is not None:
            return load_coco(root, Path(val_data), val_fraction, seed)
        if (root / "train" / ANNOTATIONS_FILE).is_file():
            val_dir = root / "val" if (root / "val" / ANNOTATIONS_FILE).is_file() else None
            data = load_coco(root / "train", val_dir, val_fraction, seed)
            return replace(data, root=root)
        return load_coco(root, None, val_fraction, seed)
    raise DatasetError(f"layout must be auto or one of {', '.join(LAYOUTS)}, not {layout!r}")


# -- torch ----------------------------------------------------------------------------------------------

Transform = Callable[[Image.Image], torch.Tensor]
Item = tuple[torch.Tensor, torch.Tensor]
Batch = tuple[torch.Tensor, torch.Tensor]


class ImageDataset(torch.utils.data.Dataset[Item | None]):
    """Samples as (image tensor, multi-hot target) pairs; an unreadable image yields None.

    The target is a float vector over all labels (one-hot for single-label data), so one loss and one
    mixup serve both heads. `min_size` lets big JPEGs decode at reduced scale (never below what the
    transform needs).
    """

    def __init__(
        self, samples: Sequence[Sample], num_classes: int, transform: Transform, min_size: int | None = None
    ) -> None:
        self.samples = list(samples)
        self.num_classes = num_classes
        self.transform = transform
        self.min_size = min_size

    def __len__(self) -> int:
        return len(self.samples)

    def target(self, index: int) -> torch.Tensor:
        target = torch.zeros(self.num_classes)
        target[list(self.samples[index].targets)] = 1.0
        return target

    def __getitem__(self, index: int) -> Item | None:
        sample = self.samples[index]
        try:
            image = decode_image(sample.path.read_bytes(), min_size=self.min_size)
        except (ImageDecodeError, OSError) as exc:
            _LOGGER.warning("skipping %s: %s", sample.path, getattr(exc, "detail", "") or exc)
            return None
        return self.transform(image), self.target(index)


def collate(items: Sequence[Item | None]) -> Batch | None:
    """Stack a batch, leaving out images that could not be read (None when none could)."""
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    return torch.stack([x for x, _ in kept]), torch.stack([y for _, y in kept])
