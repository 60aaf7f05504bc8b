"""Image bytes → model input array, driven only by a bundle's `data_config`.

The served path computes with Pillow and numpy, so a CPU process serving an ONNX bundle never imports
PyTorch; timm's own transform (PyTorch) is used only for configs the fast one does not reproduce.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from model.bundle import DataConfig
from model.images import decode_image

if TYPE_CHECKING:
    import torch

Transform = Callable[[Image.Image], np.ndarray]
"""A photo → its normalised CHW float32 array, the model's input."""

TimmTransform = Callable[[Image.Image], "torch.Tensor"]


def build_transform(config: DataConfig) -> TimmTransform:
    """timm's evaluation transform (resize, centre crop, normalise) for this bundle's config."""
    from timm.data.transforms_factory import create_transform

    transform: TimmTransform = create_transform(
        input_size=config.input_size,
        interpolation=config.interpolation,
        mean=config.mean,
        std=config.std,
        crop_pct=config.crop_pct,
        crop_mode=config.crop_mode,
        is_training=False,
    )
    return transform


_PIL_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


class CenterCropTransform:
    """timm's evaluation transform for the usual case, computed with Pillow and numpy.

    It gives timm's (torchvision) Resize → CenterCrop → ToTensor → Normalize numbers — the same Pillow
    bicubic, the same crop box — within one grey level on a few pixels in ten thousand (Pillow rounds a
    resampled column a hair differently when only the cropped columns are computed; probabilities move
    by about 1e-4, ten times less than the ONNX export is allowed to), in about a third of the time.
    That matters on a CPU where decoding shares the cores with the model. `build_fast_transform` uses it
    only where it applies.
    """

    def __init__(self, config: DataConfig) -> None:
        self.size = config.resize_size
        self.height, self.width = config.input_size[1], config.input_size[2]
        self.resample = _PIL_RESAMPLE[config.interpolation]
        # (x / 255 - mean) / std as one multiply and one subtract per channel, written in place into the
        # CHW output: a fifth of the time of numpy's HWC float temporaries plus a transposing copy.
        std = np.asarray(config.std, dtype=np.float32)
        self.scale = (1.0 / (255.0 * std)).reshape(3, 1, 1)
        self.shift = (np.asarray(config.mean, dtype=np.float32) / std).reshape(3, 1, 1)

    def __call__(self, image: Image.Image) -> np.ndarray:
        width, height = image.size
        if width <= height:
            new_w, new_h = self.size, int(self.size * height / width)
        else:
            new_w, new_h = int(self.size * width / height), self.size
        top = round((new_h - self.height) / 2.0)
        left = round((new_w - self.width) / 2.0)
        if (new_w, new_h) != (width, height):
            # Only the columns the crop keeps are resampled (Pillow's `box`, in source pixels): a landscape
            # phone photo loses a third of its width to the centre crop, so this saves a third of the
            # resize. Rows are resampled in full because a vertical box changes Pillow's rounding more.
            scale = width / new_w
            box = (left * scale, 0.0, (left + self.width) * scale, float(height))
            image = image.resize((self.width, new_h), self.resample, box=box)
            left = 0
        image = image.crop((left, top, left + self.width, top + self.height))
        out = np.empty((3, self.height, self.width), dtype=np.float32)
        np.multiply(np.asarray(image).transpose(2, 0, 1), self.scale, out=out)
        np.subtract(out, self.shift, out=out)
        return out


def build_fast_transform(config: DataConfig) -> Transform:
    """`CenterCropTransform` where it reproduces timm's transform exactly, else timm's own."""
    fits = (
        config.crop_mode == "center"
        and config.interpolation in _PIL_RESAMPLE
        and config.resize_size >= max(config.input_size[1], config.input_size[2])
    )
    if fits:
        return CenterCropTransform(config)
    timm_transform = build_transform(config)
    return lambda image: timm_transform(image).numpy()


class Preprocessor:
    """Decodes photo bytes safely and turns them into a normalised CHW float32 array.

    JPEGs are decoded at reduced scale when they are much larger than the model needs (the short side
    is kept at least the resize size, so no detail the model would see is lost).
    """

    def __init__(self, config: DataConfig) -> None:
        self.config = config
        self._transform = build_fast_transform(config)

    def __call__(self, data: bytes) -> np.ndarray:
        """Raises `model.images.ImageDecodeError` for anything that is not a readable photo."""
        image = decode_image(data, min_size=self.config.resize_size)
        return self._transform(image)
