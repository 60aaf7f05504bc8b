"""Files the fake keeps (photos in Telegram's size ladder, documents) and the ids it gives them."""

from __future__ import annotations

import io
import itertools
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# Telegram keeps each photo at these longest sides (the "s", "m", "x", "y" sizes), never upscaled.
PHOTO_LADDER = (90, 320, 800, 1280)
JPEG_QUALITY = 87
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024

_counter = itertools.count(1)


@dataclass
class StoredFile:
    """One file on the fake's "servers"; ``size`` may exceed ``len(data)`` to fake a huge file cheaply."""

    file_id: str
    file_unique_id: str
    data: bytes
    size: int
    kind: str  # "photo" or "document"
    width: int | None = None
    height: int | None = None
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str | None = None

    def photo_size(self) -> dict[str, Any]:
        """The Bot API PhotoSize for this file."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
            "file_size": self.size,
        }

    def document(self) -> dict[str, Any]:
        """The Bot API Document for this file."""
        result: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name is not None:
            result["file_name"] = self.file_name
        if self.mime_type is not None:
            result["mime_type"] = self.mime_type
        result["file_size"] = self.size
        return result


def new_file(
    kind: str,
    data: bytes,
    *,
    size: int | None = None,
    width: int | None = None,
    height: int | None = None,
    file_name: str | None = None,
    mime_type: str | None = None,
) -> StoredFile:
    """A file with fresh, Telegram-looking ids (``AgAC...`` for photos, ``BQAC...`` for documents)."""
    number = next(_counter)
    prefix = "AgACAgIAAxkBAA" if kind == "photo" else "BQACAgIAAxkBAA"
    return StoredFile(
        file_id=f"{prefix}{number:06d}{secrets.token_urlsafe(24)}",
        file_unique_id=f"AQAD{number:06d}{secrets.token_urlsafe(6)}",
        data=data,
        size=len(data) if size is None else size,
        kind=kind,
        width=width,
        height=height,
        file_name=file_name,
        mime_type=mime_type,
    )


def photo_ladder(data: bytes) -> list[StoredFile]:
    """Re-encodes a photo the way Telegram stores it: JPEGs at each ladder size below the original's
    longest side plus the original capped at 1280, smallest first. Raises ValueError for non-images."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not a decodable image: {exc}") from exc
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    longest = max(image.size)
    sides = [side for side in PHOTO_LADDER[:-1] if side < longest]
    sides.append(min(longest, PHOTO_LADDER[-1]))
    files = []
    for side in sides:
        scale = side / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        files.append(
            new_file("photo", buffer.getvalue(), width=size[0], height=size[1], mime_type="image/jpeg")
        )
    return files


def guess_mime_type(file_name: str | None) -> str:
    """The MIME type Telegram would report for a document with this name."""
    if file_name:
        guessed, _ = mimetypes.guess_type(file_name)
        if guessed:
            return guessed
        if file_name.lower().endswith((".heic", ".heif")):
            return "image/heic"
    return "application/octet-stream"


def file_path_for(file: StoredFile) -> str:
    """The ``file_path`` getFile reports, like ``photos/file_12.jpg``."""
    if file.kind == "photo":
        return f"photos/file_{file.file_unique_id}.jpg"
    suffix = ""
    if file.file_name and "." in file.file_name:
        suffix = "." + file.file_name.rsplit(".", 1)[1]
    return f"documents/file_{file.file_unique_id}{suffix}"
