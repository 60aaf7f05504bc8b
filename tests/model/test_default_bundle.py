"""The default bundle holds the real official weights, mapped right, with a tuned no-food rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from model.bundle import ModelBundle, load_bundle
from model.default_bundle import (
    FOOD_MASS_THRESHOLD,
    ensure_default_bundle,
    reference_weights_path,
    remap_reference_keys,
)
from model.food_classes import imagenet_food_classes
from model.preprocess import build_transform
from model.recognizer import Recognizer
from tests.conftest import FIXTURES, FOOD_PHOTOS, NON_FOOD_PHOTOS, photo


def test_timm_logits_equal_the_reference_implementation(default_bundle: ModelBundle) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(reference_weights_path()))
    reference.eval()
    ours = default_bundle.create_model()
    image = Image.open(FIXTURES / "coffee.png").convert("RGB")
    batch = build_transform(default_bundle.meta.data_config)(image).unsqueeze(0)
    with torch.inference_mode():
        expected = reference(batch)
        got = ours(batch)
    assert got.shape == (1, 1000)
    assert torch.allclose(got, expected, atol=1e-4, rtol=0), (got - expected).abs().max()
    assert int(got.argmax()) == 967  # ImageNet "espresso"


def test_every_reference_key_maps_to_exactly_one_timm_key(default_bundle: ModelBundle) -> None:
    reference = torch.load(reference_weights_path(), map_location="cpu", weights_only=True)
    mapped = remap_reference_keys(reference, [1, 2, 2, 3, 3, 4, 1])
    timm_keys = set(default_bundle.state_dict())
    assert len(mapped) == len(reference)
    assert set(mapped) == timm_keys
    for key, tensor in mapped.items():
        assert default_bundle.state_dict()[key].shape == tensor.shape, key


def test_remap_refuses_keys_it_does_not_know() -> None:
    with pytest.raises(KeyError, match="_se_reduce"):
        remap_reference_keys({"_blocks.1._se_reduce.weight": torch.zeros(1)}, [1, 2])
    with pytest.raises(KeyError, match="beyond"):
        remap_reference_keys({"_blocks.9._bn0.weight": torch.zeros(1)}, [1, 2])


def test_labels_are_imagenet_with_the_food_classes_mapped(default_bundle: ModelBundle) -> None:
    meta = default_bundle.meta
    assert len(meta.labels) == 1000
    foods = {label: key for label, key in meta.label_foods.items() if key}
    assert len(foods) == len(imagenet_food_classes()) == 46
    assert foods["n07920052"] == "espresso"
    assert meta.label_foods["n07579787"] is None  # plate: not a food
    assert meta.data_config.mean == (0.5, 0.5, 0.5)
    assert meta.data_config.std == (0.5, 0.5, 0.5)
    assert meta.data_config.input_size == (3, 224, 224)
    assert meta.provenance["license"] == "Apache-2.0"
    assert default_bundle.id.startswith("tf_efficientnet_lite0-")


def test_built_on_first_use_then_cached(tmp_path: Path) -> None:
    lines: list[str] = []
    first = ensure_default_bundle(tmp_path / "default", progress=lines.append)
    assert len(lines) == 2 and "first run" in lines[0]
    again = ensure_default_bundle(tmp_path / "default", progress=lines.append)
    assert len(lines) == 2, "a cached bundle is not rebuilt"
    assert again.id == first.id == load_bundle(tmp_path / "default").id


def test_food_mass_threshold_separates_the_committed_photos(recognizer: Recognizer) -> None:
    food = [r.food_mass for r in recognizer.predict([photo(n) for n in FOOD_PHOTOS])]
    non_food = [r.food_mass for r in recognizer.predict([photo(n) for n in NON_FOOD_PHOTOS])]
    assert max(non_food) * 5 < FOOD_MASS_THRESHOLD < min(food) / 2, (food, non_food)
