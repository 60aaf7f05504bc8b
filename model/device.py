"""Choosing where the model runs, at run time (`DEVICE=auto|cpu|cuda`)."""

from __future__ import annotations

import torch


class DeviceUnavailable(RuntimeError):
    """`DEVICE=cuda` was asked for on a machine without a usable GPU."""


def resolve_device(choice: str = "auto") -> torch.device:
    """`auto` takes the GPU when there is one; `cuda` insists on it; `cpu` never uses it.

    Tests run the same code on the CPU, so the GPU path differs only in the device it gets here.
    """
    choice = choice.strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable("DEVICE=cuda, but PyTorch sees no CUDA GPU here; set DEVICE=auto or cpu")
        return torch.device(choice)
    raise ValueError(f"DEVICE must be auto, cpu or cuda, not {choice!r}")
