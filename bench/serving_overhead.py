"""The serving path's own ceiling: `python bench/serving_overhead.py [--seconds 4] [--batch 256]`.

`foodbot bench` compares the batcher with the model. This asks the other question: how many photos a
second can one process push through `InProcessQueue` (futures, batching, metrics, turning
probabilities into answers) when the model costs nothing? On a GPU that answers tens of thousands of
photos a second this Python side is what can cap the end-to-end figure, so it is measured here, on
any machine, with the real queue and the real `Recognizer.interpret_rows` and only the model and the
pixel work replaced by fixed answers. Prints one JSON object: photos/s and microseconds per photo for
the CPU configuration (photos decoded in the pool) and the GPU one (bytes handed to the model thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.settings import Settings
from model.bench import end_to_end, make_jpegs
from model.default_bundle import ensure_default_bundle
from model.recognizer import Recognizer
from model.runtime import Batch, Outputs


class FreeModel:
    """A runtime that answers at once: every photo an espresso, nearly sure."""

    name = "free"
    pipeline_depth = 1

    def __init__(self, classes: int) -> None:
        self._row = np.full((1, classes), 0.01 / classes, dtype=np.float32)
        self._row[0, 967] = 0.99  # ImageNet's espresso
        self._embedding = np.ones((1, 1280), dtype=np.float32)

    def forward(self, batch: Batch) -> Outputs:
        return Outputs(
            np.repeat(self._row, len(batch), axis=0), np.repeat(self._embedding, len(batch), axis=0)
        )


def _recognizer(on_device: bool) -> Recognizer:
    bundle = ensure_default_bundle(Settings().default_model_dir)
    recognizer = Recognizer(bundle, "cpu", device_decode=on_device)
    recognizer.runtime = FreeModel(len(bundle.meta.labels))
    blank = np.zeros(bundle.meta.data_config.input_size, dtype=np.float32)
    recognizer.preprocess = lambda data: blank  # type: ignore[method-assign]
    recognizer._device_preprocess = lambda images: [blank for _ in images]  # type: ignore[assignment,method-assign]
    return recognizer


def measure(seconds: float, batch: int) -> dict[str, Any]:
    images = make_jpegs(64, count=8)
    figures: dict[str, Any] = {"batch": batch}
    for label, on_device in (("cpu_path", False), ("gpu_path", True)):
        started = time.perf_counter()
        served = asyncio.run(end_to_end(_recognizer(on_device), images, batch, seconds))
        figures[label] = {
            "photos_per_s": round(served["throughput"]),
            "us_per_photo": round(1e6 / served["throughput"], 1),
            "p50_ms_at_half_load": round(served["p50_ms"], 2),
        }
        figures[label]["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    Path(Settings().data_dir).mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.seconds, args.batch)))


if __name__ == "__main__":
    main()
