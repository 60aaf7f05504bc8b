"""ONNX Runtime (the CPU path) and PyTorch (the GPU path, run here on the CPU) agree on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.bundle import ModelBundle
from model.recognizer import Recognizer
from model.runtime import OnnxRuntime, make_runtime
from model.torch_runtime import TorchRuntime
from tests.conftest import FOOD_PHOTOS, NON_FOOD_PHOTOS, photo


def test_every_built_bundle_has_an_onnx_export(default_bundle: ModelBundle) -> None:
    assert default_bundle.onnx_path is not None
    assert isinstance(make_runtime(default_bundle, "cpu"), OnnxRuntime)
    assert isinstance(make_runtime(default_bundle, "cpu", "torch"), TorchRuntime)


def test_onnx_and_torch_probabilities_agree_on_real_photos(default_bundle: ModelBundle) -> None:
    recognizer = Recognizer(default_bundle, "cpu", runtime="onnx")
    batch = np.stack([recognizer.preprocess(photo(n)) for n in FOOD_PHOTOS + NON_FOOD_PHOTOS])
    onnx, onnx_features = OnnxRuntime(default_bundle).forward(batch)
    eager, eager_features = TorchRuntime(default_bundle, "cpu").forward(batch)
    assert onnx.shape == eager.shape == (len(batch), 1000)
    assert np.abs(onnx - eager).max() < 1e-3
    np.testing.assert_allclose(onnx.sum(axis=1), 1.0, atol=1e-4)
    assert onnx_features is not None and eager_features is not None
    assert onnx_features.shape == eager_features.shape == (len(batch), 1280)
    np.testing.assert_allclose(onnx_features, eager_features, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_both_runtimes_name_the_same_foods(default_bundle: ModelBundle, runtime: str) -> None:
    recognizer = Recognizer(default_bundle, "cpu", runtime=runtime)
    coffee, cat = recognizer.predict([photo("coffee.png"), photo("chelsea.png")])
    assert coffee.foods[0].key == "espresso"
    assert cat.no_food


def test_a_bundle_without_export_falls_back_to_torch(default_bundle: ModelBundle, tmp_path: Path) -> None:
    from model.bundle import save_bundle

    plain = save_bundle(tmp_path / "plain", default_bundle.state_dict(), default_bundle.meta)
    assert plain.onnx_path is None
    assert isinstance(make_runtime(plain, "cpu"), TorchRuntime)
    with pytest.raises(FileNotFoundError, match=r"model\.onnx"):
        make_runtime(plain, "cpu", "onnx")


def test_device_decoding_names_the_same_foods_as_the_cpu_decoder(default_bundle: ModelBundle) -> None:
    """The GPU path (batch JPEG decode + tensor resize on the device), exercised on the CPU."""
    on_device = Recognizer(default_bundle, "cpu", device_decode=True)
    on_cpu = Recognizer(default_bundle, "cpu")
    names = ["orange.jpg", "fruits.jpg", "apple.jpg", "coffee.png", "chelsea.png"]
    batch = [photo(n) for n in names] + [photo("orange.jpg")[:4000], b"not a photo"]
    device_answers = on_device.predict(batch)
    cpu_answers = on_cpu.predict(batch)
    for name, a, b in zip(names, device_answers, cpu_answers, strict=False):
        assert a.foods[0].key == b.foods[0].key, name
        assert a.no_food == b.no_food, name
    assert device_answers[-2].error and device_answers[-1].error, "broken photos fail alone"
    assert device_answers[0].foods[0].key == "orange"


def test_onnx_splits_a_batch_over_its_threads_and_keeps_the_order(default_bundle: ModelBundle) -> None:
    """Photos run as separate single-threaded calls on a pool; the rows must still come back in order."""
    recognizer = Recognizer(default_bundle, "cpu", runtime="onnx")
    names = FOOD_PHOTOS + NON_FOOD_PHOTOS
    tensors = [recognizer.preprocess(photo(n)) for n in names]
    whole = OnnxRuntime(default_bundle, threads=1, chunk=len(tensors)).forward(np.stack(tensors)).probs
    for threads, chunk in [(2, 1), (3, 2), (2, 5)]:
        split = OnnxRuntime(default_bundle, threads=threads, chunk=chunk).forward(tensors).probs
        np.testing.assert_allclose(split, whole, atol=1e-5)
    assert [int(row.argmax()) for row in whole] == [int(row.argmax()) for row in split]


def test_torch_compile_is_an_option_of_the_pytorch_runtime_only(default_bundle: ModelBundle) -> None:
    """TORCH_COMPILE wraps the PyTorch model (compiled lazily; not run here: inductor takes minutes on
    two cores) and leaves the ONNX runtime alone."""
    from torch._dynamo.eval_frame import OptimizedModule

    compiled = make_runtime(default_bundle, "cpu", "torch", compile_model=True)
    assert isinstance(compiled, TorchRuntime) and compiled.compiled
    assert isinstance(compiled._model, OptimizedModule)
    plain = make_runtime(default_bundle, "cpu", "torch")
    assert isinstance(plain, TorchRuntime) and not isinstance(plain._model, OptimizedModule)
    assert isinstance(make_runtime(default_bundle, "cpu", compile_model=True), OnnxRuntime)
