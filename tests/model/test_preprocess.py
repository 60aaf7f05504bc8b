"""The fast preprocessing gives timm's numbers: the model sees what it was evaluated on."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from model.bundle import DataConfig, ModelBundle
from model.preprocess import CenterCropTransform, build_fast_transform, build_transform
from model.torch_runtime import TorchRuntime
from tests.conftest import photo

SIZES = [(224, 224), (225, 300), (700, 180), (320, 240), (240, 320), (1280, 960), (4032, 3024)]


@pytest.mark.parametrize("name", ["coffee.png", "orange.jpg", "chelsea.png", "camera.png"])
@pytest.mark.parametrize("size", SIZES)
def test_fast_transform_matches_timm(default_bundle: ModelBundle, name: str, size: tuple[int, int]) -> None:
    """At most one grey level apart, on at most one value in a thousand (Pillow's rounding)."""
    config = default_bundle.meta.data_config
    image = Image.open(io.BytesIO(photo(name))).convert("RGB").resize(size)
    fast = build_fast_transform(config)
    assert isinstance(fast, CenterCropTransform)
    expected = build_transform(config)(image)
    got = torch.from_numpy(fast(image))
    assert got.shape == expected.shape == (3, 224, 224)
    one_level = 1 / (255 * min(config.std))
    difference = (got - expected).abs()
    assert float(difference.max()) <= one_level + 1e-5
    assert float((difference > 1e-5).float().mean()) < 1e-3


@pytest.mark.parametrize("name", ["coffee.png", "orange.jpg", "fruits.jpg", "chelsea.png"])
def test_fast_transform_leaves_the_probabilities_where_timm_puts_them(
    default_bundle: ModelBundle, name: str
) -> None:
    """Well inside the 1e-3 the ONNX export may differ by: the model cannot tell the two apart."""
    config = default_bundle.meta.data_config
    runtime = TorchRuntime(default_bundle, "cpu")
    image = Image.open(io.BytesIO(photo(name))).convert("RGB").resize((320, 240))
    batch = torch.stack(
        [build_transform(config)(image), torch.from_numpy(build_fast_transform(config)(image))]
    )
    timm_probs, fast_probs = runtime.forward(batch).probs
    assert np.abs(timm_probs - fast_probs).max() < 1e-3


def test_other_crop_modes_use_timm_itself() -> None:
    config = DataConfig(input_size=(3, 224, 224), mean=(0.5,) * 3, std=(0.5,) * 3, crop_mode="squash")
    assert not isinstance(build_fast_transform(config), CenterCropTransform)
