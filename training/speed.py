"""Training speed on this machine: `python -m training.speed --arch convnext_small --size 224`.

Generates a folder dataset of random-texture JPEGs (no download), fine-tunes on it through the same
`training.train.train` path `foodbot train` uses (timm augmentation, data loader workers, AdamW, bf16
autocast and channels_last on CUDA), and prints one JSON object per architecture with the images per
second of the last epoch (the first one pays for worker start-up and cuDNN warm-up). The weights start
random (`--backbone none`), which costs the same per step as pretrained ones and needs no hub.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from training.config import TrainConfig
from training.train import train


def make_dataset(root: Path, classes: int, per_class: int, size: int, seed: int = 0) -> Path:
    """`classes` folders of `per_class` JPEGs, each a random colour field with noise."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"class_{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, 3)
        for n in range(per_class):
            pixels = base[None, None, :] + rng.normal(0, 40, (size, size, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                folder / f"{n:04d}.jpg", quality=90
            )
    return root


def measure(
    arch: str, size: int, images: int, batch_size: int, epochs: int, device: str, workers: int | None
) -> dict[str, object]:
    """Train `epochs` epochs on `images` generated images; the figures of the run."""
    with tempfile.TemporaryDirectory(prefix="foodbot-speed-") as tmp:
        classes = 10
        data = make_dataset(Path(tmp) / "data", classes, max(2, images // classes), int(size * 1.15))
        config = TrainConfig(
            data=data,
            out=Path(tmp) / "run",
            arch=arch,
            backbone="none",
            image_size=size,
            epochs=epochs,
            batch_size=batch_size,
            val_fraction=0.05,
            device=device,
            onnx=False,
            progress=False,
        )
        if workers is not None:
            config.workers = workers
        result = train(config, report=lambda _line: None)
        bundle = json.loads((result.bundle_dir / "bundle.json").read_text())
    return {
        "arch": arch,
        "size": size,
        "batch_size": batch_size,
        "device": bundle["provenance"]["device"],
        "bf16_autocast": bundle["provenance"]["bf16_autocast"],
        "channels_last": bundle["provenance"]["channels_last"],
        "workers": config.workers,
        "images_per_s_by_epoch": [h["images_per_s"] for h in result.history],
        "images_per_s": result.history[-1]["images_per_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.speed", description=__doc__)
    parser.add_argument("--arch", nargs="+", default=["tf_efficientnet_lite0"], help="timm architectures")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--images", type=int, default=512, help="generated training images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    for arch in args.arch:
        figures = measure(
            arch, args.size, args.images, args.batch_size, args.epochs, args.device, args.workers
        )
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
