"""`foodbot bench [--json] [--device …] [--size 320|800|1280] [--seconds N]`."""

from __future__ import annotations

import json
import sys

from bot.model_setup import make_recognizer
from bot.settings import Settings
from meallog.nutrition import default_table
from model.bench import run_bench


def run_bench_command(
    settings: Settings, *, as_json: bool, device: str | None, size: int, seconds: float
) -> int:
    """Measure and print; returns the exit status."""
    if device:
        settings = settings.model_copy(update={"device": device})
    recognizer = make_recognizer(
        settings, default_table(), progress=lambda line: print(line, file=sys.stderr)
    )
    figures = run_bench(recognizer, size, seconds)
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>18}: {value}")
    return 0
