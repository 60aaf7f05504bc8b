"""DEVICE=auto|cpu|cuda is chosen at run time."""

from __future__ import annotations

import pytest
import torch

from model.device import DeviceUnavailable, resolve_device


def test_auto_takes_the_gpu_only_when_there_is_one() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(" CPU ").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_what_to_do() -> None:
    with pytest.raises(DeviceUnavailable, match="DEVICE=auto or cpu"):
        resolve_device("cuda")


def test_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("tpu")
