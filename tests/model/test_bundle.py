"""The bundle format: what is saved loads back the same, and broken bundles are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.bundle import META_FILE, WEIGHTS_FILE, BundleError, ModelBundle, load_bundle, save_bundle
from model.recognizer import Recognizer
from tests.conftest import photo


def test_saved_bundle_loads_back_and_predicts_the_same(default_bundle: ModelBundle, tmp_path: Path) -> None:
    copy = save_bundle(tmp_path / "copy", default_bundle.state_dict(), default_bundle.meta)
    assert copy.id == default_bundle.id, "the id is derived from the weights"
    assert copy.meta == default_bundle.meta
    [a] = Recognizer(copy, "cpu", runtime="torch").predict([photo("orange.jpg")])
    [b] = Recognizer(default_bundle, "cpu", runtime="torch").predict([photo("orange.jpg")])
    assert a == b
    assert not list(tmp_path.glob(".copy-*")), "no temporary directory is left behind"


def test_changed_weights_change_the_id(default_bundle: ModelBundle, tmp_path: Path) -> None:
    weights = default_bundle.state_dict()
    weights["classifier.bias"] = weights["classifier.bias"] + 1.0
    assert save_bundle(tmp_path / "other", weights, default_bundle.meta).id != default_bundle.id


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"bundle\.json is missing"):
        load_bundle(tmp_path)
    (tmp_path / META_FILE).write_text("{}")
    with pytest.raises(BundleError, match=r"model\.safetensors is missing"):
        load_bundle(tmp_path)


def test_invalid_metadata_is_refused(default_bundle: ModelBundle, tmp_path: Path) -> None:
    bundle = save_bundle(tmp_path / "b", default_bundle.state_dict(), default_bundle.meta)
    meta = json.loads((bundle.path / META_FILE).read_text())
    meta["label_foods"]["not-a-label"] = "espresso"
    (bundle.path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="label_foods names labels"):
        load_bundle(bundle.path)
    (bundle.path / META_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="invalid"):
        load_bundle(bundle.path)


def test_weights_that_do_not_fit_the_architecture_are_refused(
    default_bundle: ModelBundle, tmp_path: Path
) -> None:
    weights = default_bundle.state_dict()
    weights["classifier.weight"] = torch.zeros(10, 1280)
    bundle = save_bundle(tmp_path / "bad", weights, default_bundle.meta)
    with pytest.raises(BundleError, match="does not fit"):
        bundle.create_model()
    assert (bundle.path / WEIGHTS_FILE).is_file()
