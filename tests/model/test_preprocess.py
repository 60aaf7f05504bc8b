"""The fast preprocessing gives timm's numbers: the model sees exactly what it was evaluated on."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from model.bundle import DataConfig, ModelBundle
from model.preprocess import CenterCropTransform, build_fast_transform, build_transform
from tests.conftest import photo


@pytest.mark.parametrize("name", ["coffee.png", "orange.jpg", "chelsea.png", "camera.png"])
@pytest.mark.parametrize("size", [(224, 224), (225, 300), (700, 180)])
def test_fast_transform_equals_timm(default_bundle: ModelBundle, name: str, size: tuple[int, int]) -> None:
    config = default_bundle.meta.data_config
    image = Image.open(io.BytesIO(photo(name))).convert("RGB").resize(size)
    fast = build_fast_transform(config)
    assert isinstance(fast, CenterCropTransform)
    expected = build_transform(config)(image)
    got = fast(image)
    assert got.shape == expected.shape == (3, 224, 224)
    assert torch.allclose(got, expected, atol=1e-5)


def test_other_crop_modes_use_timm_itself() -> None:
    config = DataConfig(input_size=(3, 224, 224), mean=(0.5,) * 3, std=(0.5,) * 3, crop_mode="squash")
    assert not isinstance(build_fast_transform(config), CenterCropTransform)
