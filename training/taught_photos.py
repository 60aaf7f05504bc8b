"""The taught photos again, fetched from Telegram by file id, for a full retrain.

The bot keeps no copies of people's photos: a memory example holds the photo's Telegram file id and
the serving model's embedding of it. A full retrain needs the pixels, so it asks Telegram for each
photo again (`getFile`, then the file URL), a few at a time, into a folder the run deletes when it ends,
so nothing of a person outlives the run (and /forget meanwhile is honoured by the next run).

A photo fetched once serves every example of it (a plate taught three foods is one download). An
example without a file id (`foodbot teach` from a file) cannot be fetched; a file Telegram no longer has
is marked on its examples (`MemoryStore.forget_photo_file`) so that nothing asks for it again. Each
download goes through the safe decoder before it counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from model.images import ImageDecodeError, decode_image

if TYPE_CHECKING:
    from training.corrections import TelegramPhotos

_LOGGER = logging.getLogger(__name__)

#: Downloads in flight at once (getFile and the file itself are not messages: no 30-a-second budget).
AT_ONCE = 8

Fetch = Callable[[str], Awaitable[bytes]]


class PhotoKeyed(Protocol):
    """What this module needs of an example (`meallog.store.memory.ExampleView` has it)."""

    @property
    def photo_file_id(self) -> str | None: ...

    @property
    def photo_unique_id(self) -> str | None: ...


class PhotoGone(Exception):
    """Telegram answered that the file id is no longer valid (the photo is gone for good)."""


@dataclass
class FetchedPhotos:
    """Where each photo went, keyed by the photo (unique id, else file id), and what could not be had."""

    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)
    no_file_id: int = 0
    gone: list[str] = field(default_factory=list)
    failed: int = 0
    unreadable: int = 0

    def path_of(self, example: PhotoKeyed) -> Path | None:
        key = photo_key(example)
        return self.paths.get(key) if key is not None else None

    def counts(self) -> dict[str, int]:
        return {
            "fetched": len(self.paths),
            "no_file_id": self.no_file_id,
            "gone": len(self.gone),
            "failed": self.failed,
            "unreadable": self.unreadable,
        }


def photo_key(example: PhotoKeyed) -> str | None:
    """The photo an example was taught from: Telegram's unique id (the same for every file id of it)."""
    if example.photo_file_id is None:
        return None
    return example.photo_unique_id or example.photo_file_id


async def fetch_photos(
    examples: Sequence[PhotoKeyed], fetch: Fetch, into: FetchedPhotos, at_once: int = AT_ONCE
) -> FetchedPhotos:
    """Fetch the photos of `examples` that `into` does not hold yet, writing them to `into.folder`.

    `fetch` raises `PhotoGone` for a file Telegram no longer has; any other error costs that photo only.
    """
    wanted: dict[str, str] = {}
    for example in examples:
        key = photo_key(example)
        if key is None:
            into.no_file_id += 1
        elif key not in into.paths and key not in wanted and key not in into.gone:
            assert example.photo_file_id is not None
            wanted[key] = example.photo_file_id
    into.folder.mkdir(parents=True, exist_ok=True)
    gate = asyncio.Semaphore(at_once)

    async def one(number: int, key: str, file_id: str) -> None:
        async with gate:
            try:
                data = await fetch(file_id)
            except PhotoGone:
                into.gone.append(key)
                return
            except Exception as exc:  # a network error costs this photo, not the run
                _LOGGER.warning("could not fetch a taught photo again: %s", exc)
                into.failed += 1
                return
        path = into.folder / f"{number:06d}"
        # Decoding and writing off the event loop: a worker serving photos runs the nightly retrain.
        if await asyncio.to_thread(_check_and_write, data, path):
            into.paths[key] = path
        else:
            into.unreadable += 1

    start = len(into.paths) + len(into.gone) + into.failed + into.unreadable
    await asyncio.gather(*(one(start + n, key, fid) for n, (key, fid) in enumerate(wanted.items())))
    return into


def _check_and_write(data: bytes, path: Path) -> bool:
    """Write the photo when the safe decoder reads it; False (nothing written) when it does not."""
    try:
        decode_image(data)
    except ImageDecodeError:
        return False
    path.write_bytes(data)
    return True


def telegram_fetch(photos: TelegramPhotos) -> Fetch:
    """A `Fetch` over `training.corrections.TelegramPhotos`, with Telegram's "file is gone" refusal
    (a BadRequest on getFile) as `PhotoGone`."""
    from telegram.error import BadRequest

    async def fetch(file_id: str) -> bytes:
        try:
            return await photos.fetch(file_id)
        except BadRequest as exc:
            raise PhotoGone(str(exc)) from exc

    return fetch
