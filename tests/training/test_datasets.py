"""The four dataset layouts, read from generated files, and the label → food mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from meallog.nutrition import default_table
from tests.training.synth import CLASSES, make_coco, make_folder, make_food101
from training.datasets import (
    DatasetError,
    ImageDataset,
    Sample,
    collate,
    detect_layout,
    load_coco,
    load_dataset,
    load_food101,
)
from training.mapping import SHIPPED, MappingError, read_mapping_file, resolve_mapping, suggest_mapping

PLATES = [
    ["pizza", "sushi", "guacamole"],
    ["pizza"],
    ["sushi", "pancakes"],
    ["guacamole", "pancakes"],
]


def test_folder_split_is_seeded_stratified_and_disjoint(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", per_class=5, labels=("pizza", "sushi"))
    (root / "empty").mkdir()
    (root / "stray.jpg").write_bytes((root / "pizza" / "000.jpg").read_bytes())
    data = load_dataset(root, val_fraction=0.4, seed=3)
    assert data.layout == "folder" and data.labels == ("pizza", "sushi") and not data.multi_label
    assert len(data.train) == 6 and len(data.val) == 4  # 2 of each class's 5 held out
    assert data.counts(data.val) == [2, 2]
    assert not {s.path for s in data.train} & {s.path for s in data.val}
    assert {s.path for s in data.train + data.val} == {
        p for p in root.glob("*/*") if p.parent.name != "empty"
    }
    assert any("empty/" in note for note in data.notes) and any("directly in" in note for note in data.notes)
    again = load_dataset(root, val_fraction=0.4, seed=3)
    assert again.val == data.val, "the same seed gives the same split"
    others = {load_dataset(root, val_fraction=0.4, seed=s).val for s in range(4, 10)}
    assert any(val != data.val for val in others), "another seed gives another split"


def test_every_class_keeps_a_validation_image_even_when_the_fraction_rounds_to_none(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", per_class=3, labels=("pizza", "sushi"))
    data = load_dataset(root, val_fraction=0.1)
    assert data.counts(data.val) == [1, 1] and data.counts(data.train) == [2, 2]


def test_food101_keeps_the_official_split(tmp_path: Path) -> None:
    root = make_food101(tmp_path / "food-101", train_per_class=5, test_per_class=3)

    def listed(name: str) -> set[Path]:
        lines = (root / "meta" / f"{name}.txt").read_text().split()
        return {root / "images" / f"{line}.jpg" for line in lines}

    data = load_food101(root, val_fraction=0.2, seed=0)
    assert detect_layout(root) == "food101" and data.labels == tuple(CLASSES)
    assert {s.path for s in data.test} == listed("test"), "test.txt is the test set, whole"
    assert {s.path for s in data.train + data.val} == listed("train"), "validation comes out of train.txt"
    assert data.counts(data.val) == [1, 1, 1, 1]
    on_disk = set((root / "images").glob("*/*.jpg"))
    assert len(on_disk - listed("train") - listed("test")) == 4, "an unlisted image per class is on disk"
    assert all(s.path not in on_disk - listed("train") - listed("test") for s in data.split("all"))
    for sample in data.split("all"):
        assert data.labels[sample.targets[0]] == sample.path.parent.name

    first = (root / "meta" / "train.txt").read_text().split()[0]
    (root / "images" / f"{first}.jpg").unlink()
    assert any("missing" in note for note in load_food101(root).notes)
    (root / "meta" / "test.txt").write_text("no_such_class/123\n")
    with pytest.raises(DatasetError, match=r"test\.txt line 1"):
        load_food101(root)


def test_coco_keeps_every_annotation_of_an_image(tmp_path: Path) -> None:
    folder = make_coco(tmp_path / "train", PLATES)
    doc = json.loads((folder / "annotations.json").read_text())
    # A second annotation of the same food on the first plate, and an image with none at all.
    doc["annotations"].append({**doc["annotations"][0], "id": 999})
    doc["images"].append({"id": 99, "file_name": "00000.jpg", "width": 80, "height": 80})
    (folder / "annotations.json").write_text(json.dumps(doc))

    data = load_coco(folder, None, val_fraction=0.0)
    assert data.layout == "coco" and data.multi_label
    assert data.labels == tuple(CLASSES) and data.display_names["guacamole"] == "Guacamole"
    by_image = {(s.path.name, s.targets) for s in data.train}

    def names(targets: tuple[int, ...]) -> list[str]:
        return sorted(data.labels[t] for t in targets)

    first = [s for s in data.train if s.path.name == "00000.jpg"]
    assert sorted(names(s.targets) for s in first) == [[], ["guacamole", "pizza", "sushi"]]
    assert len(by_image) == len(PLATES) + 1
    assert sorted(len(s.targets) for s in data.train) == [0, 1, 2, 2, 3]


def test_coco_train_and_val_folders_under_one_root(tmp_path: Path) -> None:
    make_coco(tmp_path / "frb" / "train", PLATES)
    make_coco(tmp_path / "frb" / "val", PLATES[:2], seed=1)
    data = load_dataset(tmp_path / "frb")
    assert detect_layout(tmp_path / "frb") == "coco"
    assert len(data.train) == 4 and len(data.val) == 2
    assert all(s.path.parts[-3] == "val" for s in data.val)
    separate = load_dataset(tmp_path / "frb" / "train", val_data=tmp_path / "frb" / "val")
    assert len(separate.val) == 2


def test_corrections_export_loads_like_a_folder(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "src", per_class=2, labels=("pizza", "sushi"))
    photos = tmp_path / "export" / "photos"
    photos.mkdir(parents=True)
    entries: list[dict[str, object]] = []
    for n, path in enumerate(sorted(root.glob("*/*"))):
        (photos / f"p{n}{path.suffix}").write_bytes(path.read_bytes())
        entries.append({"file": f"photos/p{n}{path.suffix}", "labels": [path.parent.name]})
    entries.append({"file": None, "labels": ["ramen"]})  # not downloaded
    entries.append({"file": "photos/p0.jpg", "labels": [], "not_labels": ["pizza"]})
    doc = {"format": "foodbot-corrections", "version": 1, "photos": entries}
    (tmp_path / "export" / "manifest.json").write_text(json.dumps(doc))
    data = load_dataset(tmp_path / "export", val_fraction=0.5)
    assert data.layout == "corrections" and data.labels == ("pizza", "sushi")
    assert len(data.train) == 2 and len(data.val) == 2
    assert len(data.notes) == 2


def test_an_unreadable_image_is_left_out_of_its_batch(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", per_class=2, labels=("pizza",))
    broken = root / "pizza" / "broken.jpg"
    broken.write_bytes((root / "pizza" / "000.jpg").read_bytes()[:200])
    samples = [Sample(p, (0,)) for p in sorted((root / "pizza").iterdir())]
    dataset = ImageDataset(samples, 2, lambda image: torch.zeros(3, 4, 4))
    items = [dataset[i] for i in range(len(dataset))]
    assert sum(item is None for item in items) == 1
    batch = collate(items)
    assert batch is not None
    images, targets = batch
    assert images.shape == (2, 3, 4, 4) and targets.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert collate([None]) is None


def test_labels_map_to_foods_through_a_file_and_the_rest_are_reported(tmp_path: Path) -> None:
    table = default_table()
    mapping_file = tmp_path / "map.csv"
    mapping_file.write_text("label,food_key\nbread-white,bread\nplate,\n")
    labels = ["bread-white", "plate", "mystery-stew"]
    mapping = resolve_mapping(labels, table, mapping_file)
    assert mapping.label_foods == {"bread-white": "bread", "plate": None, "mystery-stew": None}
    assert mapping.unmapped == ("plate", "mystery-stew")
    assert "1 of 3 mapped" in mapping.report() and "mystery-stew" in mapping.report()

    by_key = resolve_mapping(["Apple Pie", "sushi", "widget"], table)
    assert by_key.label_foods == {"Apple Pie": "apple_pie", "sushi": "sushi", "widget": None}

    json_file = tmp_path / "map.json"
    json_file.write_text(json.dumps({"bread-white": "bread", "plate": None}))
    assert read_mapping_file(json_file) == {"bread-white": "bread", "plate": None}
    mapping_file.write_text("label,food_key\nbread-white,no_such_food\n")
    with pytest.raises(MappingError, match="no_such_food"):
        resolve_mapping(labels, table, mapping_file)


def test_the_shipped_food101_mapping_covers_all_101_classes() -> None:
    mapping = read_mapping_file(SHIPPED["food101"])
    table = default_table()
    assert len(mapping) == 101 and all(food in table for food in mapping.values())
    assert resolve_mapping(list(mapping), table, layout="food101").unmapped == ()


def test_a_draft_mapping_is_suggested_from_the_nutrition_table() -> None:
    draft = suggest_mapping(
        ["pizza", "bread-white", "zzzz-qqqq"], default_table(), {"bread-white": "White bread"}
    )
    assert draft["pizza"] == "pizza" and draft["zzzz-qqqq"] is None
    assert draft["bread-white"] is not None and "bread" in draft["bread-white"]
