"""Evaluation metrics over predicted probabilities, in plain numpy.

Single-label: top-1 / top-5 accuracy, per-class accuracy, and the classes most often wrong with what they
were taken for. Multi-label: average precision per class and its mean (mAP), F1 / precision / recall at
per-label thresholds, and thresholds tuned on validation to maximise each label's F1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Tuned thresholds stay inside this range, so one lucky validation image cannot set 0.999 or 0.0001.
THRESHOLD_RANGE = (0.05, 0.95)
#: Worst classes listed in a report.
WORST = 10


def top_k_accuracy(probs: np.ndarray, targets: np.ndarray, k: int) -> float:
    """The share of rows whose true class is among the k highest scores (k is capped at the classes)."""
    if len(targets) == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == targets[:, None], axis=1)))


def single_label_metrics(probs: np.ndarray, targets: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy figures for a softmax model; `targets` holds the true class index of each row."""
    predicted = np.argmax(probs, axis=1)
    per_class: dict[str, dict[str, float | int]] = {}
    worst: list[dict[str, Any]] = []
    for column, label in enumerate(labels):
        mask = targets == column
        support = int(mask.sum())
        if not support:
            continue
        accuracy = float(np.mean(predicted[mask] == column))
        per_class[label] = {"accuracy": round(accuracy, 4), "support": support}
        wrong = predicted[mask][predicted[mask] != column]
        entry: dict[str, Any] = {"label": label, "accuracy": round(accuracy, 4), "support": support}
        if len(wrong):
            values, counts = np.unique(wrong, return_counts=True)
            most = int(np.argmax(counts))
            entry["confused_with"] = labels[int(values[most])]
            entry["confused_count"] = int(counts[most])
        worst.append(entry)
    worst.sort(key=lambda e: (e["accuracy"], -e["support"], e["label"]))
    accuracies = [float(v["accuracy"]) for v in per_class.values()]
    return {
        "images": len(targets),
        "top1": round(top_k_accuracy(probs, targets, 1), 4),
        "top5": round(top_k_accuracy(probs, targets, 5), 4),
        "mean_class_accuracy": round(float(np.mean(accuracies)), 4) if accuracies else float("nan"),
        "per_class": per_class,
        "worst": [e for e in worst if e["accuracy"] < 1.0][:WORST],
    }


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the precision-recall curve as the mean precision at each positive (NaN if none)."""
    n_pos = int(positives.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(np.float64)
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / n_pos)


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def threshold_vector(thresholds: Mapping[str, float], labels: Sequence[str]) -> np.ndarray:
    """Each label's threshold: its own, else `default`, else 0.5 (the rule the recognizer applies)."""
    default = thresholds.get("default", 0.5)
    return np.array([thresholds.get(label, default) for label in labels], dtype=np.float64)


def tune_thresholds(probs: np.ndarray, targets: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Per-label thresholds that maximise F1 on these (validation) predictions, plus a `default`.

    Each threshold sits halfway between the lowest score taken as present and the next score below it,
    clipped to `THRESHOLD_RANGE`. Labels without a positive example get no entry of their own and fall
    back to `default`, the single threshold with the best micro F1 over all labels.
    """
    lo, hi = THRESHOLD_RANGE
    tuned: dict[str, float] = {}
    for column, label in enumerate(labels):
        positives = targets[:, column] > 0.5
        if not positives.any():
            continue
        scores = probs[:, column]
        order = np.argsort(-scores, kind="stable")
        sorted_scores, hits = scores[order], positives[order]
        tp = np.cumsum(hits)
        fp = np.arange(1, len(hits) + 1) - tp
        fn = positives.sum() - tp
        f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        best = int(np.argmax(f1))
        below = sorted_scores[best + 1] if best + 1 < len(sorted_scores) else 0.0
        tuned[label] = round(float(np.clip((sorted_scores[best] + below) / 2, lo, hi)), 4)
    candidates = np.linspace(lo, hi, 19)
    truth = targets > 0.5
    micro = [
        _f1(
            float((pred & truth).sum()),
            float((pred & ~truth).sum()),
            float((~pred & truth).sum()),
        )
        for pred in (probs >= t for t in candidates)
    ]
    tuned["default"] = round(float(candidates[int(np.argmax(micro))]), 4)
    return tuned


def multi_label_metrics(
    probs: np.ndarray, targets: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]
) -> dict[str, Any]:
    """mAP, and F1 / precision / recall with each label present when its score reaches its threshold."""
    truth = targets > 0.5
    predicted = probs >= threshold_vector(thresholds, labels)[None, :]
    tp = (predicted & truth).sum(axis=0).astype(np.float64)
    fp = (predicted & ~truth).sum(axis=0).astype(np.float64)
    fn = (~predicted & truth).sum(axis=0).astype(np.float64)
    per_class: dict[str, dict[str, float | int]] = {}
    aps: list[float] = []
    for column, label in enumerate(labels):
        support = int(truth[:, column].sum())
        if not support:
            continue
        ap = average_precision(probs[:, column], truth[:, column])
        aps.append(ap)
        per_class[label] = {
            "ap": round(ap, 4),
            "f1": round(_f1(tp[column], fp[column], fn[column]), 4),
            "support": support,
            "false_positives": int(fp[column]),
            "false_negatives": int(fn[column]),
        }
    precision = tp.sum() / max(tp.sum() + fp.sum(), 1.0)
    recall = tp.sum() / max(tp.sum() + fn.sum(), 1.0)
    f1s = [float(v["f1"]) for v in per_class.values()]
    worst = sorted(
        ({"label": label, **values} for label, values in per_class.items()),
        key=lambda e: (e["ap"], e["f1"], e["label"]),
    )
    return {
        "images": len(targets),
        "mAP": round(float(np.mean(aps)), 4) if aps else float("nan"),
        "f1_micro": round(_f1(tp.sum(), fp.sum(), fn.sum()), 4),
        "f1_macro": round(float(np.mean(f1s)), 4) if f1s else float("nan"),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "exact_match": round(
            float(np.mean(np.all(predicted == truth, axis=1))) if len(truth) else float("nan"), 4
        ),
        "per_class": per_class,
        "worst": worst[:WORST],
    }


def summary_lines(metrics: Mapping[str, Any], multi_label: bool) -> list[str]:
    """A person-readable summary: the headline figures and the worst classes."""
    if multi_label:
        lines = [
            f"images {metrics['images']}  mAP {metrics['mAP']:.3f}  F1 micro {metrics['f1_micro']:.3f}  "
            f"macro {metrics['f1_macro']:.3f}  precision {metrics['precision']:.3f}  "
            f"recall {metrics['recall']:.3f}"
        ]
        if metrics["worst"]:
            lines.append("worst classes (AP, F1, missed, false alarms):")
            lines.extend(
                f"  {e['label']:<28} AP {e['ap']:.3f}  F1 {e['f1']:.3f}  "
                f"missed {e['false_negatives']}/{e['support']}  false {e['false_positives']}"
                for e in metrics["worst"]
            )
        return lines
    lines = [
        f"images {metrics['images']}  top-1 {metrics['top1']:.3f}  top-5 {metrics['top5']:.3f}  "
        f"mean class accuracy {metrics['mean_class_accuracy']:.3f}"
    ]
    if metrics["worst"]:
        lines.append("worst classes (accuracy, most often taken for):")
        for e in metrics["worst"]:
            confused = (
                f"  → {e['confused_with']} ({e['confused_count']}/{e['support']})"
                if "confused_with" in e
                else ""
            )
            lines.append(f"  {e['label']:<28} {e['accuracy']:.3f}{confused}")
    return lines
