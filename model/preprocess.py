"""Image bytes → model input tensor, driven only by a bundle's `data_config`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

from model.bundle import DataConfig
from model.images import decode_image

Transform = Callable[[Image.Image], torch.Tensor]


def build_transform(config: DataConfig) -> Transform:
    """timm's evaluation transform (resize, centre crop, normalise) for this bundle's config."""
    from timm.data.transforms_factory import create_transform

    transform: Transform = create_transform(
        input_size=config.input_size,
        interpolation=config.interpolation,
        mean=config.mean,
        std=config.std,
        crop_pct=config.crop_pct,
        crop_mode=config.crop_mode,
        is_training=False,
    )
    return transform


class Preprocessor:
    """Decodes photo bytes safely and turns them into a normalised CHW float tensor.

    JPEGs are decoded at reduced scale when they are much larger than the model needs (the short side
    is kept at least the resize size, so no detail the model would see is lost).
    """

    def __init__(self, config: DataConfig) -> None:
        self.config = config
        self._transform = build_transform(config)

    def __call__(self, data: bytes) -> torch.Tensor:
        """Raises `model.images.ImageDecodeError` for anything that is not a readable photo."""
        image = decode_image(data, min_size=self.config.resize_size)
        return self._transform(image)
