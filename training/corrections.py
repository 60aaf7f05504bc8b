"""`foodbot export-corrections`: the photos people corrected, as a dataset to train on.

The bot keeps one correction row per food a person changed, removed or added on a photo's meal
card (meallog/store/corrections.py). Here they are grouped by photo into one manifest entry each:

* ``labels``: the foods the photo shows, as far as people told us. For a meal that is still saved, every
  food on it (saving confirmed the ones left as the model said); otherwise the foods people chose or
  added.
* ``not_labels``: foods the model named that people took away (changed from, or removed).
* the model's ranked answer, the bundle that gave it, and the correction rows themselves.

With a bot token the photos are downloaded again by file id through the Bot API (``getFile``, then the
file URL under ``TELEGRAM_API_BASE_URL``) into ``photos/``; already downloaded ones are kept, so a second
export only fetches the new photos. Each download goes through the safe decoder before it is written.
Without a token only the manifest is written. The result trains like an image folder
(`training.datasets.load_corrections`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meallog.store.corrections import CorrectionStore
from meallog.store.meals import MealStore
from meallog.store.views import CorrectionView
from model.images import ImageDecodeError, decode_image, image_format
from training.datasets import MANIFEST_FILE, MANIFEST_FORMAT

_LOGGER = logging.getLogger(__name__)

PHOTOS_DIR = "photos"
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "HEIF": ".heic"}

#: Fetches a photo's bytes by Telegram file id.
Fetch = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    manifest: Path
    photos: int
    downloaded: int
    already_there: int
    failed: int
    corrections: int


class TelegramPhotos:
    """Downloads photos by file id through the Bot API (an async context manager)."""

    def __init__(self, token: str, api_base_url: str) -> None:
        from telegram import Bot

        root = api_base_url.rstrip("/")
        self._bot = Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")

    async def __aenter__(self) -> TelegramPhotos:
        await self._bot.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._bot.shutdown()

    async def fetch(self, file_id: str) -> bytes:
        file = await self._bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())


def _safe_name(unique: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", unique)[:128] or "photo"


def _group(corrections: Sequence[CorrectionView]) -> dict[str, list[CorrectionView]]:
    """Correction rows by photo (its unique id when known; the same photo can come with other file ids)."""
    groups: dict[str, list[CorrectionView]] = {}
    for row in corrections:
        groups.setdefault(row.photo_unique_id or row.photo_file_id, []).append(row)
    return groups


async def _photo_entry(meals: MealStore, rows: list[CorrectionView]) -> dict[str, Any]:
    latest = rows[-1]
    meal_ids = sorted({r.meal_id for r in rows if r.meal_id is not None})
    labels: list[str] = []
    confirmed = False
    for meal_id in meal_ids:
        meal = await meals.get_meal(meal_id, latest.user_id)
        if meal is not None and meal.status == "saved":
            confirmed = True
            labels.extend(item.food_key for item in meal.items)
    if not confirmed:
        labels.extend(r.final_key for r in rows if r.final_key is not None)
    labels = list(dict.fromkeys(labels))
    taken_away = [r.model_key for r in rows if r.model_key is not None and r.kind in ("changed", "removed")]
    return {
        "file": None,
        "photo_file_id": latest.photo_file_id,
        "photo_unique_id": latest.photo_unique_id,
        "user_id": latest.user_id,
        "meal_ids": meal_ids,
        "labels": labels,
        "labels_from": "saved meal" if confirmed else "corrections",
        "not_labels": [key for key in dict.fromkeys(taken_away) if key not in labels],
        "bundle_id": latest.bundle_id,
        "model_foods": [[key, score] for key, score in latest.model_foods],
        "corrections": [
            {
                "kind": r.kind,
                "model_key": r.model_key,
                "final_key": r.final_key,
                "at": r.created_at.isoformat(),
            }
            for r in rows
        ],
    }


async def _download(fetch: Fetch, entry: dict[str, Any], out_dir: Path, name: str) -> str:
    """Fetch, check and write one photo; returns "downloaded", "already_there" or "failed"."""
    existing = [p for p in (out_dir / PHOTOS_DIR).glob(f"{name}.*") if p.is_file()]
    if existing:
        entry["file"] = f"{PHOTOS_DIR}/{existing[0].name}"
        return "already_there"
    try:
        data = await fetch(entry["photo_file_id"])
        decode_image(data)
    except ImageDecodeError as exc:
        entry["error"] = f"not a readable photo: {exc.reason}"
        return "failed"
    except Exception as exc:  # a network error or an expired file id costs one photo, not the export
        entry["error"] = f"{type(exc).__name__}: {exc}"
        _LOGGER.warning("could not download photo %s: %s", entry["photo_file_id"], exc)
        return "failed"
    path = out_dir / PHOTOS_DIR / f"{name}{_SUFFIX.get(image_format(data) or '', '.jpg')}"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    entry["file"] = f"{PHOTOS_DIR}/{path.name}"
    return "downloaded"


async def export_corrections(
    corrections: CorrectionStore,
    meals: MealStore,
    out_dir: Path,
    fetch: Fetch | None = None,
    user_id: int | None = None,
) -> ExportSummary:
    """Write `manifest.json` (and, with `fetch`, the photos) for all corrections, or one person's.

    `meals` tells which corrected meals are still saved: their items label the photo.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if fetch is not None:
        (out_dir / PHOTOS_DIR).mkdir(exist_ok=True)
    found = await corrections.corrections(user_id)
    entries: list[dict[str, Any]] = []
    outcomes = {"downloaded": 0, "already_there": 0, "failed": 0}
    for key, rows in _group(found).items():
        entry = await _photo_entry(meals, rows)
        if fetch is not None:
            outcomes[await _download(fetch, entry, out_dir, _safe_name(key))] += 1
        entries.append(entry)
    manifest = out_dir / MANIFEST_FILE
    doc = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "user_id": user_id,
        "photos": entries,
    }
    tmp = manifest.with_name(f".{manifest.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest)
    return ExportSummary(manifest, len(entries), corrections=len(found), **outcomes)
