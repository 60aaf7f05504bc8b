"""Evaluation figures on cases small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    average_precision,
    multi_label_metrics,
    single_label_metrics,
    summary_lines,
    top_k_accuracy,
    tune_thresholds,
)

LABELS = ("pizza", "sushi", "ramen")


def test_single_label_accuracy_per_class_and_the_worst_confusion() -> None:
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # pizza, right
            [0.6, 0.3, 0.1],  # pizza, right
            [0.5, 0.4, 0.1],  # sushi, taken for pizza; second guess right
            [0.1, 0.8, 0.1],  # sushi, right
            [0.6, 0.1, 0.3],  # ramen, taken for pizza; second guess right
            [0.2, 0.7, 0.1],  # ramen, taken for sushi; third guess
        ]
    )
    targets = np.array([0, 0, 1, 1, 2, 2])
    m = single_label_metrics(probs, targets, LABELS)
    assert m["images"] == 6
    assert m["top1"] == pytest.approx(3 / 6)
    assert top_k_accuracy(probs, targets, 2) == pytest.approx(5 / 6)
    assert m["top5"] == 1.0  # k is capped at the 3 classes
    assert m["per_class"] == {
        "pizza": {"accuracy": 1.0, "support": 2},
        "sushi": {"accuracy": 0.5, "support": 2},
        "ramen": {"accuracy": 0.0, "support": 2},
    }
    assert m["mean_class_accuracy"] == pytest.approx(0.5)
    worst = m["worst"]
    assert [w["label"] for w in worst] == ["ramen", "sushi"]  # pizza is never wrong, so not listed
    assert worst[1] == {
        "label": "sushi",
        "accuracy": 0.5,
        "support": 2,
        "confused_with": "pizza",
        "confused_count": 1,
    }
    text = "\n".join(summary_lines(m, multi_label=False))
    assert "top-1 0.500" in text and "sushi" in text and "→ pizza (1/2)" in text


def test_average_precision_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # Positives ranked 1st and 3rd: precision 1/1 and 2/3, mean 5/6.
    assert average_precision(scores, np.array([True, False, True, False])) == pytest.approx(5 / 6)
    assert average_precision(scores, np.array([True, True, False, False])) == 1.0
    assert math.isnan(average_precision(scores, np.zeros(4, dtype=bool)))


def test_multi_label_map_and_f1_at_thresholds() -> None:
    probs = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6], [0.6, 0.1, 0.3], [0.3, 0.2, 0.4]])
    targets = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=np.float32)
    m = multi_label_metrics(probs, targets, LABELS, {"default": 0.5})
    # Every class ranks its positives first, so each AP is 1.
    assert m["mAP"] == 1.0
    # At 0.5: pizza 2/2 found; sushi 2/2; ramen finds 1 of 2 (0.6 yes, 0.4 no) and no false alarm.
    assert m["per_class"]["ramen"] == {
        "ap": 1.0,
        "f1": pytest.approx(2 / 3, abs=1e-4),
        "support": 2,
        "false_positives": 0,
        "false_negatives": 1,
    }
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(5 / 6, abs=1e-4)
    assert m["f1_micro"] == pytest.approx(2 * 5 / (2 * 5 + 0 + 1), abs=1e-4)
    assert m["exact_match"] == pytest.approx(3 / 4)
    # A threshold per label overrides the default: ramen at 0.35 finds both.
    better = multi_label_metrics(probs, targets, LABELS, {"default": 0.5, "ramen": 0.35})
    assert better["per_class"]["ramen"]["f1"] == 1.0 and better["f1_micro"] == 1.0
    assert "mAP 1.000" in "\n".join(summary_lines(m, multi_label=True))


def test_thresholds_tuned_on_validation_separate_each_class() -> None:
    probs = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6], [0.6, 0.1, 0.3], [0.3, 0.2, 0.4]])
    targets = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=np.float32)
    tuned = tune_thresholds(probs, targets, LABELS)
    assert set(tuned) == {"pizza", "sushi", "ramen", "default"}
    # Halfway between the lowest positive and the highest negative score of each class.
    assert tuned["pizza"] == pytest.approx((0.6 + 0.3) / 2)
    assert tuned["sushi"] == pytest.approx((0.7 + 0.2) / 2)
    assert tuned["ramen"] == pytest.approx((0.4 + 0.3) / 2)
    assert multi_label_metrics(probs, targets, LABELS, tuned)["f1_micro"] == 1.0
    assert 0.05 <= tuned["default"] <= 0.95
