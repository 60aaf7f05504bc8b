"""Which of Telegram's photo sizes to download: the smallest that still fills the model's input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

#: getFile refuses anything larger than this.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


class PhotoSizeLike(Protocol):
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def file_size(self) -> int | None: ...


P = TypeVar("P", bound=PhotoSizeLike)


def choose_photo_size(sizes: Sequence[P], input_size: int) -> P | None:
    """The smallest size whose short side is at least `input_size`, else the largest downloadable one.

    Telegram sends each photo in several sizes (longest side about 90, 320, 800, 1280); the model sees
    `input_size` pixels, so anything bigger is wasted bandwidth and decode time. None when every size is
    over the 20 MB download limit.
    """
    allowed = [s for s in sizes if (s.file_size or 0) <= TELEGRAM_DOWNLOAD_LIMIT]
    if not allowed:
        return None
    by_area = sorted(allowed, key=lambda s: s.width * s.height)
    for size in by_area:
        if min(size.width, size.height) >= input_size:
            return size
    return by_area[-1]
