"""Embedding taught photos again after the served model changed, in the background.

An embedding belongs to the bundle that made it: another model's features are another space, so
ranking uses only examples embedded by the bundle now answering (`meallog.memory.recall`). When a new
bundle is served, this job fetches each taught photo again from Telegram by its file id (the bot keeps
no copies of people's photos), has the new model embed it, and stores a row under the new bundle; the
old rows keep theirs, so rolling back finds them. Meanwhile a person's photos are ranked with what is
already done, and with the classifier alone before that: sensible answers, only less personal.

Examples from `foodbot teach` have no Telegram photo; teach them again under the new model.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackContext

from bot.services import services

_LOGGER = logging.getLogger(__name__)

REEMBED_JOB = "memory-reembed"
#: Photos fetched and embedded per run of the job (one run a minute).
PER_RUN = 20


async def reembed(context: CallbackContext[Any, Any, Any, Any]) -> int:
    """Embed up to `PER_RUN` taught photos for the served bundle; returns how many were done."""
    svc = services(context)
    bundle_id = svc.queue.served.bundle_id
    if not bundle_id:
        return 0
    try:
        waiting = await svc.memory.to_embed_again(bundle_id, PER_RUN)
    except SQLAlchemyError as exc:
        _LOGGER.warning("memory re-embedding could not read the examples: %s", exc)
        return 0
    done = 0
    for example in waiting:
        assert example.photo_file_id is not None
        try:
            file = await context.bot.get_file(example.photo_file_id)
            data = bytes(await file.download_as_bytearray())
        except BadRequest:  # Telegram no longer has the file: stop asking for it
            await svc.memory.forget_photo_file(example)
            continue
        except TelegramError as exc:  # a network hiccup: the next run tries again
            _LOGGER.info("memory re-embedding paused: %s", exc)
            break
        answer = await svc.queue.recognize(data)
        if answer.error or not answer.embedding or answer.bundle_id != bundle_id:
            break  # busy, or the model changed again meanwhile: the next run sees
        await svc.memory.embedded_again(example, answer.embedding, bundle_id)
        done += 1
    if done:
        _LOGGER.info("embedded %d taught photos again for %s", done, bundle_id)
    return done
