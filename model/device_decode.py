"""Decoding a batch of JPEGs on the model's device (nvJPEG on a GPU) and preprocessing it there.

On a GPU the CPU cannot decode photos as fast as the model eats them (PIL with 16 threads: about 2,000
photos/s; nvJPEG: about 18,000), so JPEG batches are decoded with `torchvision.io.decode_jpeg(...,
device=...)`, then resized, cropped and normalised as tensors on the same device. Safety is kept: each
photo's header is checked by the safe decoder's rules (format sniffed from magic bytes, pixel limit before
any decode) first, a batch decode failure is retried photo by photo so a bad one fails alone, and every
non-JPEG goes through `model.images.decode_image` on the CPU. On the CPU this is the same code (tests run
it there); only the device differs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from model.bundle import DataConfig
from model.images import MAX_PIXELS, ImageDecodeError, image_format

_INTERPOLATION = {
    "bicubic": InterpolationMode.BICUBIC,
    "bilinear": InterpolationMode.BILINEAR,
    "nearest": InterpolationMode.NEAREST,
}


def _check_jpeg_header(data: bytes) -> None:
    """Refuse a JPEG whose header cannot be read or whose size is over the pixel limit, before decoding."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as header:
            width, height = header.size
    except Exception as exc:  # any header failure is a broken upload
        raise ImageDecodeError("truncated", detail=f"JPEG header: {exc}") from exc
    if width * height > MAX_PIXELS:
        raise ImageDecodeError("too_large", detail=f"JPEG {width}x{height}")


class DevicePreprocessor:
    """Bytes → normalised batch on `device`; JPEGs decoded there, other formats by `cpu_fallback`."""

    def __init__(
        self, config: DataConfig, device: str | torch.device, cpu_fallback: Callable[[bytes], np.ndarray]
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self._fallback = cpu_fallback
        self._mean = torch.tensor(config.mean, device=self.device).view(3, 1, 1)
        self._std = torch.tensor(config.std, device=self.device).view(3, 1, 1)
        self._interpolation = _INTERPOLATION.get(config.interpolation, InterpolationMode.BICUBIC)

    def _finish(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 CHW on the device → the model's input, like the CPU transform (resize, crop, normalise)."""
        resized = F.resize(
            image, [self.config.resize_size], interpolation=self._interpolation, antialias=True
        )
        height, width = self.config.input_size[1], self.config.input_size[2]
        cropped = F.center_crop(resized, [height, width])
        normalised: torch.Tensor = (cropped.float().div_(255.0) - self._mean) / self._std
        return normalised

    def _decode(self, blobs: Sequence[torch.Tensor]) -> list[torch.Tensor | ImageDecodeError]:
        try:
            with warnings.catch_warnings():
                # torchvision 0.29 marks its codecs deprecated in favour of torchcodec; nvJPEG still ships.
                warnings.simplefilter("ignore", DeprecationWarning)
                images = decode_jpeg(
                    list(blobs), mode=ImageReadMode.RGB, device=self.device, apply_exif_orientation=True
                )
            return list(images)
        except RuntimeError:
            if len(blobs) == 1:
                return [ImageDecodeError("truncated", detail="decode_jpeg failed")]
        # Retry one by one so that only the broken photo fails.
        return [self._decode([blob])[0] for blob in blobs]

    def __call__(self, images: Sequence[bytes]) -> list[torch.Tensor | ImageDecodeError]:
        """One entry per photo: its input tensor on the device, or why it could not be read."""
        results: list[torch.Tensor | ImageDecodeError | None] = [None] * len(images)
        jpeg_slots: list[int] = []
        blobs: list[torch.Tensor] = []
        for i, data in enumerate(images):
            try:
                if image_format(data) == "JPEG":
                    _check_jpeg_header(data)
                    blobs.append(torch.frombuffer(bytearray(data), dtype=torch.uint8))
                    jpeg_slots.append(i)
                else:
                    results[i] = torch.from_numpy(self._fallback(data)).to(self.device)
            except ImageDecodeError as exc:
                results[i] = exc
        if blobs:
            for slot, decoded in zip(jpeg_slots, self._decode(blobs), strict=True):
                results[slot] = decoded if isinstance(decoded, ImageDecodeError) else self._finish(decoded)
        return [r if r is not None else ImageDecodeError("not_image") for r in results]
