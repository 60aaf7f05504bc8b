"""Export a bundle's model to ONNX (`model.onnx` beside the weights), for ONNX Runtime on the CPU.

On a 2-core CPU ONNX Runtime runs tf_efficientnet_lite0 several times faster than PyTorch eager, so
every bundle gets an export when it is built. The batch axis is dynamic, so one file serves any batch.
The graph has two outputs, the logits and the photo's embedding (`model.embedding_model`); an export
made before embeddings existed has only the first (`model.runtime.has_embedding` tells).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch

from model.bundle import ONNX_FILE, ModelBundle
from model.embedding_model import LogitsAndEmbedding
from model.runtime import EMBEDDING_NAME

_LOGGER = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
OPSET = 17


def export_onnx(bundle: ModelBundle) -> Path:
    """Write `model.onnx` for the bundle (atomically: a temporary file renamed into place)."""
    model = LogitsAndEmbedding(bundle.create_model()).eval()
    size = bundle.meta.data_config.input_size
    example = torch.zeros(2, *size)
    target = bundle.path / ONNX_FILE
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated but needs no extra packages and handles timm's
        # "same" padding; the dynamo exporter would add onnxscript to the install.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME, EMBEDDING_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}, EMBEDDING_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    os.replace(tmp, target)
    _LOGGER.info("exported %s", target)
    return target
