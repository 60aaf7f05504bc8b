"""Fine-tuning on the CPU from the default bundle's backbone: it learns, exports, serves, resumes exactly."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.bundle import ModelBundle, load_bundle
from model.recognizer import Recognizer
from tests.training.conftest import IMAGE_SIZE, Trained, tiny_config
from tests.training.synth import CLASSES, make_coco, make_folder, make_image, plate
from training.backbone import Backbone, build_model, resolve_backbone
from training.config import TrainingError
from training.losses import asymmetric_loss, soft_cross_entropy
from training.lr_find import suggest
from training.schedule import warmup_cosine
from training.setup import prepare
from training.train import find_lr, train

PNG = b"\x89PNG\r\n\x1a\n"


def _jpeg(label: str, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    make_image(label, rng).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_two_epochs_on_the_cpu_learn_the_classes(trained: Trained) -> None:
    history, metrics = trained.result.history, trained.result.metrics
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]
    # Four classes: chance is 0.25.
    assert metrics["val"]["top1"] >= 0.75, metrics["val"]
    assert metrics["val"]["images"] == 16
    assert trained.result.images_per_s > 0
    assert any("4 of 4 mapped" in line for line in trained.lines)
    assert any(line.startswith("epoch 2/2") for line in trained.lines)


def test_a_run_leaves_checkpoints_curves_and_figures(trained: Trained) -> None:
    out = trained.config.out
    for name in ("last.pt", "best.pt", "history.json", "metrics.json", "label_foods.json"):
        assert (out / name).is_file(), name
    assert (out / "curves.png").read_bytes().startswith(PNG)
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert "per_class" in json.loads((out / "metrics.json").read_text())["val"]


def test_the_bundle_carries_labels_foods_preprocessing_and_provenance(
    trained: Trained, default_bundle: ModelBundle
) -> None:
    bundle = load_bundle(trained.result.bundle_dir)
    meta = bundle.meta
    assert meta.arch == "tf_efficientnet_lite0" and meta.head == "softmax"
    assert meta.labels == sorted(CLASSES) and meta.label_foods == {label: label for label in CLASSES}
    assert meta.data_config.input_size == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert meta.data_config.mean == default_bundle.meta.data_config.mean
    assert meta.thresholds["food_mass"] == 0.5
    assert meta.metrics["val"]["top1"] == trained.result.metrics["val"]["top1"]
    assert "per_class" not in meta.metrics["val"]
    assert meta.provenance["backbone"]["bundle_id"] == default_bundle.id
    assert meta.provenance["dataset"]["train_images"] == 48
    assert meta.provenance["config"]["epochs"] == 2
    assert bundle.onnx_path is not None


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_the_recognizer_serves_the_trained_bundle(trained: Trained, runtime: str) -> None:
    recognizer = Recognizer(load_bundle(trained.result.bundle_dir), "cpu", runtime=runtime)
    rng = np.random.default_rng(1234)  # images the model has never seen
    photos = [(label, _jpeg(label, rng)) for label in CLASSES for _ in range(2)]
    answers = recognizer.predict([data for _, data in photos])
    right = sum(answer.foods[0].key == label for (label, _), answer in zip(photos, answers, strict=True))
    assert right >= 6, [(label, a.foods[0].key) for (label, _), a in zip(photos, answers, strict=True)]
    assert all(not a.no_food and len(a.present) == 1 for a in answers)


def test_a_multi_label_coco_run_gets_a_sigmoid_head_with_tuned_thresholds(
    tmp_path: Path, default_bundle: ModelBundle
) -> None:
    rng = random.Random(0)

    def plates(n: int) -> list[list[str]]:
        return [rng.sample(list(CLASSES), rng.randint(1, 3)) for _ in range(n)]

    make_coco(tmp_path / "frb" / "train", plates(32), seed=0)
    make_coco(tmp_path / "frb" / "val", plates(16), seed=1)
    config = tiny_config(tmp_path / "frb", tmp_path / "run", default_bundle, auto_augment=None)
    result = train(config, report=lambda _line: None)
    bundle = load_bundle(result.bundle_dir)
    assert bundle.meta.head == "sigmoid"
    assert set(CLASSES) | {"default"} <= set(bundle.meta.thresholds)
    assert all(0.05 <= bundle.meta.thresholds[label] <= 0.95 for label in CLASSES)
    val = result.metrics["val"]
    # About half the (plate, food) pairs are positive, so ranking at random gives an mAP near 0.5.
    assert val["mAP"] > 0.6, val
    recognizer = Recognizer(bundle, "cpu", runtime="torch")
    buffer = io.BytesIO()
    plate(["pizza", "sushi"], np.random.default_rng(7)).save(buffer, format="PNG")
    (answer,) = recognizer.predict([buffer.getvalue()])
    for food in answer.foods:  # present exactly when the score reaches the label's own threshold
        assert food.present == (food.confidence >= bundle.meta.thresholds[food.key])


class _Interrupted(Exception):
    pass


def test_resume_continues_exactly_where_the_run_stopped(tmp_path: Path, default_bundle: ModelBundle) -> None:
    """Also runs the optional parts: mixup + cutmix, balanced sampling, accumulation, a frozen first epoch."""
    data = make_folder(tmp_path / "data", per_class=6, labels=("pizza", "sushi", "guacamole"))
    extras = {
        "batch_size": 4,
        "val_fraction": 0.34,
        "mixup": 0.4,
        "cutmix": 1.0,
        "balanced": True,
        "accum_steps": 2,
        "freeze_epochs": 1,
        "auto_augment": None,
    }
    quiet = lambda _line: None  # noqa: E731
    whole = train(tiny_config(data, tmp_path / "whole", default_bundle, **extras), report=quiet)

    def stop_after_first(record: dict[str, object]) -> None:
        raise _Interrupted

    broken = tiny_config(data, tmp_path / "broken", default_bundle, **extras)
    with pytest.raises(_Interrupted):
        train(broken, report=quiet, on_epoch_end=stop_after_first)
    checkpoint = torch.load(tmp_path / "broken" / "last.pt", weights_only=True)
    assert checkpoint["state"]["epoch"] == 1 and checkpoint["state"]["history"][0]["frozen"]
    body = {k: v for k, v in default_bundle.state_dict().items() if not k.startswith("classifier.")}
    assert all(torch.equal(checkpoint["model"][k], v) for k, v in body.items()), "frozen epoch moved the body"

    with pytest.raises(TrainingError, match="--resume"):
        train(broken, report=quiet)
    lines: list[str] = []
    broken.resume = True
    resumed = train(broken, report=lines.append)
    assert any("resuming" in line for line in lines)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    mine, theirs = load_bundle(resumed.bundle_dir).state_dict(), load_bundle(whole.bundle_dir).state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine), (
        "a resumed run must match the uninterrupted one"
    )
    last_mine = torch.load(tmp_path / "broken" / "last.pt", weights_only=True)["model"]
    last_theirs = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(last_mine[k], last_theirs[k]) for k in last_mine)
    assert not all(torch.equal(last_mine[k], v) for k, v in body.items()), "the second epoch trains the body"


def test_early_stopping_ends_the_run_and_keeps_the_best_epoch(
    tmp_path: Path, default_bundle: ModelBundle
) -> None:
    data = make_folder(tmp_path / "data", per_class=4, labels=("pizza", "sushi"))
    config = tiny_config(
        data, tmp_path / "run", default_bundle, epochs=6, patience=1, lr=1e-7, warmup_epochs=0
    )
    lines: list[str] = []
    result = train(config, report=lines.append)
    assert len(result.history) < 6 and any("early stop" in line for line in lines)
    assert load_bundle(result.bundle_dir).meta.metrics["best_epoch"] < len(result.history)


def test_the_lr_finder_plots_and_suggests_a_rate_without_touching_the_model(
    folder_dataset: Path, default_bundle: ModelBundle, tmp_path: Path
) -> None:
    config = tiny_config(folder_dataset, tmp_path / "run", default_bundle, lr_find_steps=15)
    setup = prepare(config, report=lambda _line: None)
    before = {k: v.clone() for k, v in setup.model.state_dict().items()}
    result = find_lr(config, report=lambda _line: None, setup=setup)
    assert math.isfinite(result.suggestion) and 1e-7 <= result.suggestion <= 1.0
    assert result.lrs == sorted(result.lrs) and len(result.lrs) == len(result.losses) >= 2
    assert (tmp_path / "run" / "lr_find.png").read_bytes().startswith(PNG)
    assert all(torch.equal(before[k], v) for k, v in setup.model.state_dict().items())


def test_the_suggestion_is_where_the_loss_falls_fastest() -> None:
    lrs = list(np.logspace(-6, 0, 61))
    # Flat, then a steep fall centred at 1e-3, a minimum near 1e-2, then divergence.
    losses = [2.0 - 1.5 / (1 + math.exp(-4 * (math.log10(lr) + 3))) for lr in lrs]
    losses = [loss + (max(0.0, math.log10(lr) + 2) * 3) for loss, lr in zip(losses, lrs, strict=True)]
    assert 3e-4 < suggest(lrs, losses) < 3e-3
    assert suggest([1e-5, 1e-4], [1.0, 0.5]) == pytest.approx(1e-5)


def test_backbones_load_from_a_weights_file_and_refuse_what_does_not_fit(
    tmp_path: Path, default_bundle: ModelBundle
) -> None:
    weights = tmp_path / "lite0.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in default_bundle.state_dict().items()}}, weights)
    config = tiny_config(tmp_path, tmp_path / "run", default_bundle, backbone=str(weights))
    backbone = resolve_backbone(config)
    assert backbone.provenance["kind"] == "weights file" and len(backbone.provenance["sha256"]) == 64
    model = build_model("tf_efficientnet_lite0", 3, backbone)
    state = model.state_dict()
    assert torch.equal(state["conv_stem.weight"], default_bundle.state_dict()["conv_stem.weight"])
    assert state["classifier.weight"].shape == (3, 1280) and not state["classifier.weight"].any()

    import timm

    other = Backbone(timm.create_model("resnet18").state_dict(), False, {})
    with pytest.raises(TrainingError, match="do not fit"):
        build_model("tf_efficientnet_lite0", 3, other)
    config.arch = "resnet18"
    config.backbone = str(default_bundle.path)
    with pytest.raises(TrainingError, match="--arch tf_efficientnet_lite0"):
        resolve_backbone(config)


def test_losses_and_schedule() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    one_hot = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = F.cross_entropy(logits, torch.tensor([0, 2]), label_smoothing=0.1)
    assert torch.allclose(soft_cross_entropy(logits, one_hot, 0.1), expected)
    bce = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="sum") / 2
    assert torch.allclose(asymmetric_loss(logits, one_hot, gamma_neg=0, gamma_pos=0, clip=0), bce)
    assert asymmetric_loss(logits, one_hot) < bce, "easy negatives weigh less"
    factor = warmup_cosine(total_steps=10, warmup_steps=2, min_ratio=0.1)
    assert [round(factor(s), 3) for s in (0, 1, 2)] == [0.5, 1.0, 1.0]
    assert factor(9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert factor(10) == pytest.approx(0.1)


def test_randaugment_at_full_magnitude_never_posterizes_to_zero_bits() -> None:
    """Pillow 13 raises for 0 bits, which timm's RandAugment asks for at magnitude 10."""
    from PIL import Image

    from model.bundle import DataConfig
    from training.setup import safe_auto_augment, train_transform

    assert safe_auto_augment("rand-m9-mstd0.5-inc1") == "rand-m9-mstd0.5-inc1-mmax9"
    assert safe_auto_augment("rand-m7-mmax12") == "rand-m7-mmax12" and safe_auto_augment(None) is None
    config = DataConfig(input_size=(3, 32, 32), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    transform = train_transform(config, "rand-n3-m10-mstd0.5-inc1")
    image = Image.new("RGB", (40, 40), (120, 60, 200))
    random.seed(0)
    for _ in range(300):
        assert transform(image).shape == (3, 32, 32)
