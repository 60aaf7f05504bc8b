"""Choosing where the model runs, at run time (`DEVICE=auto|cpu|cuda`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Present wherever a GPU driver is (NVIDIA's on Linux and WSL, AMD's for ROCm builds of PyTorch).
_GPU_SIGNS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg", "/dev/kfd")


class DeviceUnavailable(RuntimeError):
    """`DEVICE=cuda` was asked for on a machine without a usable GPU."""


def _may_have_gpu() -> bool:
    """False only where PyTorch surely sees no GPU, so `auto` on a CPU machine need not import it."""
    return sys.platform != "linux" or any(Path(sign).exists() for sign in _GPU_SIGNS)


def _cuda_available() -> bool:
    import torch  # hundreds of MB: asked only where a GPU may be

    return bool(torch.cuda.is_available())


def device_name(choice: str = "auto") -> str:
    """`auto` takes the GPU when there is one; `cuda` insists on it; `cpu` never uses it.

    The answer is `cpu` or `cuda[:N]`, found without importing PyTorch on a machine with no GPU driver,
    so a CPU process serving an ONNX bundle stays free of it. Tests run the same code on the CPU, so the
    GPU path differs only in the device it gets here.
    """
    choice = choice.strip().lower()
    if choice == "auto":
        return "cuda" if _may_have_gpu() and _cuda_available() else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice.startswith("cuda"):
        if not (_may_have_gpu() and _cuda_available()):
            raise DeviceUnavailable("DEVICE=cuda, but PyTorch sees no CUDA GPU here; set DEVICE=auto or cpu")
        return choice
    raise ValueError(f"DEVICE must be auto, cpu or cuda, not {choice!r}")


def resolve_device(choice: str = "auto") -> torch.device:
    """`device_name` as a PyTorch device, for code that runs PyTorch anyway (training, evaluation)."""
    import torch

    return torch.device(device_name(choice))
