"""Small synthetic datasets on disk, in each layout the training code reads.

Every class has its own colour and texture (stripes, checks, dots, rings), with random phase, jitter
and noise per image, so a model can tell them apart after a few steps while no two images are alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

#: Food-101 class names (all nutrition keys), each with its colour (RGB) and texture.
CLASSES: dict[str, tuple[tuple[int, int, int], str]] = {
    "pizza": ((200, 60, 40), "stripes"),
    "sushi": ((235, 235, 225), "checks"),
    "guacamole": ((70, 150, 60), "dots"),
    "pancakes": ((215, 170, 80), "rings"),
}
SIZE = 80


def make_image(label: str, rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """One image of a class: its colour, jittered, with its texture at a random phase, plus noise."""
    colour, texture = CLASSES[label]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(8, 12)
    phase = rng.uniform(0, period)
    if texture == "stripes":
        pattern = np.sin(2 * np.pi * (yy + phase) / period)
    elif texture == "checks":
        pattern = np.sign(
            np.sin(2 * np.pi * (xx + phase) / period) * np.sin(2 * np.pi * (yy + phase) / period)
        )
    elif texture == "dots":
        pattern = (rng.random((size, size)) < 0.08).astype(np.float32) * 2 - 1
    else:
        cy, cx = rng.uniform(0, size, 2)
        pattern = np.sin(2 * np.pi * np.hypot(yy - cy, xx - cx) / period)
    base = np.array(colour, dtype=np.float32) * rng.uniform(0.85, 1.15)
    pixels = base[None, None, :] * (1 + 0.25 * pattern[..., None]) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)
    return path


def make_folder(root: Path, per_class: int, labels: Sequence[str] = tuple(CLASSES), seed: int = 0) -> Path:
    """`<root>/<class>/<n>.jpg` (every third one a PNG, to mix formats)."""
    rng = np.random.default_rng(seed)
    for label in labels:
        for n in range(per_class):
            suffix = ".png" if n % 3 == 2 else ".jpg"
            _save(make_image(label, rng), root / label / f"{n:03d}{suffix}")
    return root


def make_food101(root: Path, train_per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """The Food-101 layout: images/<class>/<id>.jpg plus meta/classes.txt, train.txt, test.txt.

    One extra image per class is in neither list (the loader must not pick it up).
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in CLASSES:
        for n in range(train_per_class + test_per_class + 1):
            image_id = str(100_000 + n * 7)
            _save(make_image(label, rng), root / "images" / label / f"{image_id}.jpg")
            if n < train_per_class:
                train.append(f"{label}/{image_id}")
            elif n < train_per_class + test_per_class:
                test.append(f"{label}/{image_id}")
    meta = root / "meta"
    meta.mkdir(parents=True)
    (meta / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (meta / "train.txt").write_text("\n".join(train) + "\n")
    (meta / "test.txt").write_text("\n".join(test) + "\n")
    return root


def plate(labels: Sequence[str], rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """A "plate" showing several classes side by side (vertical bands), for multi-label data."""
    canvas = Image.new("RGB", (size, size))
    width = size // len(labels)
    for i, label in enumerate(labels):
        band = make_image(label, rng, size).crop((0, 0, width, size))
        canvas.paste(band, (i * width, 0))
    return canvas


def make_coco(folder: Path, plates: Sequence[Sequence[str]], seed: int = 0) -> Path:
    """AIcrowd/COCO style: annotations.json (one annotation per food on a plate) and images/."""
    rng = np.random.default_rng(seed)
    category_ids = {label: 100 + i for i, label in enumerate(CLASSES)}
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    for n, foods in enumerate(plates):
        name = f"{n:05d}.jpg"
        _save(plate(foods, rng), folder / "images" / name)
        images.append({"id": n + 1, "file_name": name, "width": SIZE, "height": SIZE})
        for food in foods:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": n + 1,
                    "category_id": category_ids[food],
                    "bbox": [0, 0, 10, 10],
                    "area": 100,
                    "iscrowd": 0,
                    "segmentation": [],
                }
            )
    categories = [
        {"id": cid, "name": label, "name_readable": label.replace("_", " ").title(), "supercategory": "food"}
        for label, cid in category_ids.items()
    ]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    (folder / "annotations.json").write_text(json.dumps(doc))
    return folder
