"""A meal photo (or an image sent as a file) → recognition, ranked with the person's memory → a draft
meal and its card.

Each person's photos come here one at a time, in the order sent (`bot.journal`, `bot.lanes`); the
download and the model take one of the shared slots. A photo handled a second time (the journal
retrying it after a failure) finds the draft it made instead of making another. When the model is
slow, a short note says so and becomes the card when the answer comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC

from telegram import File, Message, Update
from telegram.error import BadRequest

from bot.clock import now_of
from bot.handlers.cards import card_view, edit_message, record_card, send_card, send_missing_card
from bot.handlers.common import Context, Sender, sender
from bot.handlers.text import typed_meal
from bot.journal import tried_before
from bot.photo_choice import TELEGRAM_DOWNLOAD_LIMIT, choose_photo_size
from bot.telegram_io import typing_while_slow
from meallog.prompts import Prompt, PromptKind
from meallog.store.views import NewItem, with_caption_foods
from model.images import image_format
from model.recognition import Recognition

_LOGGER = logging.getLogger(__name__)

NOT_A_PHOTO = "That file isn't a photo I can read. Send a JPEG, PNG, WebP or HEIC picture of your meal."
TOO_BIG = "That file is over 20 MB, more than Telegram lets me download. Send it as a photo instead."
TAKING_LONG = "⏳ This one is taking longer than usual — your meal card will appear right here."
BACKLOG = (
    "⏳ You have {waiting} photos waiting for me. I'll answer those first, in order; this photo and any "
    "more you send before their cards are here I can't take — please send them again afterwards."
)
#: After this long without an answer from the model, the person is told it is on its way.
SLOW_NOTE_AFTER_S = 8.0
#: The backlog note goes to a person at most once in this many seconds.
BACKLOG_NOTE_EVERY_S = 60.0
_backlog_noted: dict[int, float] = {}


async def on_photo(update: Update, context: Context) -> None:
    """A photo: download the smallest size that fills the model's input, recognize, show the card."""
    who = await sender(update, context)
    if who is None or not who.message.photo:
        return
    size = choose_photo_size(who.message.photo, who.svc.input_size)
    if size is None:
        await who.message.reply_text(TOO_BIG)
        return
    if await _already_answered(who, context):
        return
    async with _typing(who, context), who.svc.lanes.slot():
        data = await _download(who.message, size.get_file)
        if data is None:
            return
        recognition, note = await _recognize(who, data)
    await _reply(who, context, recognition, note, size.file_id, size.file_unique_id)


async def on_document(update: Update, context: Context) -> None:
    """An image sent as a file: accepted when it is a photo format, refused kindly otherwise."""
    who = await sender(update, context)
    if who is None or who.message.document is None:
        return
    document = who.message.document
    if (document.file_size or 0) > TELEGRAM_DOWNLOAD_LIMIT:
        await who.message.reply_text(TOO_BIG)
        return
    mime = (document.mime_type or "").lower()
    name = (document.file_name or "").lower()
    looks_like_image = mime.startswith("image/") or name.endswith(
        (".heic", ".heif", ".jpg", ".jpeg", ".png", ".webp")
    )
    if not looks_like_image:
        await who.message.reply_text(NOT_A_PHOTO)
        return
    if await _already_answered(who, context):
        return
    async with _typing(who, context), who.svc.lanes.slot():
        data = await _download(who.message, document.get_file)
        if data is None:
            return
        if image_format(data) is None:
            await who.message.reply_text(NOT_A_PHOTO)
            return
        recognition, note = await _recognize(who, data)
    await _reply(who, context, recognition, note, document.file_id, document.file_unique_id)


async def on_backlog(update: Update, context: Context) -> None:
    """A photo past the person's backlog: not taken; a note (once a minute) says why and what to do."""
    who = await sender(update, context)
    if who is None:
        return
    now = time.monotonic()
    if now - _backlog_noted.get(who.person.id, -BACKLOG_NOTE_EVERY_S) < BACKLOG_NOTE_EVERY_S:
        return
    _backlog_noted[who.person.id] = now
    waiting = who.svc.lanes.waiting(who.person.id)
    await who.message.reply_text(BACKLOG.format(waiting=waiting))


def _typing(who: Sender, context: Context) -> AbstractAsyncContextManager[None]:
    """ "typing…" while the photo is fetched and recognized, if that is slow and the bot is not busy."""
    return typing_while_slow(context.bot, who.message.chat_id, busy=who.svc.lanes.busy())


async def _already_answered(who: Sender, context: Context) -> bool:
    """Whether this message already has its meal (the update is being handled again): then its card
    is sent if it never went out, and nothing else happens. A first try has nothing to look for."""
    if not tried_before():
        return False
    meal = await who.svc.meals.from_message(who.person.id, who.message.message_id)
    if meal is None:
        return False
    await send_missing_card(context, who.message.chat_id, meal, who.svc, who.message.message_id)
    return True


async def _download(message: Message, get_file: Callable[[], Awaitable[File]]) -> bytes | None:
    """The file's bytes; None (after telling the person) when Telegram will not hand it over."""
    try:
        file = await get_file()
        return bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message.lower():  # a document whose size Telegram did not tell in advance
            await message.reply_text(TOO_BIG)
            return None
        raise


async def _recognize(who: Sender, data: bytes) -> tuple[Recognition, Message | None]:
    """The model's answer; when it is slow, a note is sent meanwhile (returned, to become the card)."""
    task = asyncio.ensure_future(who.svc.queue.recognize(data))
    done, _ = await asyncio.wait({task}, timeout=SLOW_NOTE_AFTER_S)
    note = None
    if not done:
        note = await who.message.reply_text(TAKING_LONG)
    return await task, note


async def _reply(
    who: Sender,
    context: Context,
    recognition: Recognition,
    note: Message | None,
    file_id: str,
    unique_id: str,
) -> None:
    """Make the draft and show its card (in place of the "taking long" note, if one was sent)."""
    message, svc = who.message, who.svc
    if recognition.error:
        if note is not None:
            await edit_message(context, note.chat_id, note.message_id, recognition.error, None)
        else:
            await message.reply_text(recognition.error)
        return
    recognition = await svc.recall.rank(who.person.id, recognition)
    items = []
    for food in recognition.present:
        row = svc.table.get(food.key)
        if row is None:
            _LOGGER.warning("model food %r is not in the nutrition table", food.key)
            continue
        items.append(NewItem(food.key, row.portion_g, source="model", confidence=food.confidence))
    if message.caption:
        typed = typed_meal(message.caption, who.table, caption_of=message.message_id)
        if not isinstance(typed, str):  # a caption is never refused: "Paris 2024" is a title, not 2 kg
            items = with_caption_foods(items, typed.items)
    meal = await svc.meals.start_draft(
        who.person.id,
        eaten_at=message.date.astimezone(UTC) if message.date else now_of(context),
        photo_file_id=file_id,
        photo_unique_id=unique_id,
        caption=message.caption,
        recognition=recognition,
        items=items,
        source_message_id=message.message_id,
    )
    if not meal.items:
        await svc.people.set_pending(who.person.id, Prompt(PromptKind.SEARCH, meal_id=meal.id, item_id=0))
    if note is None:
        await send_card(context, message.chat_id, meal, svc)
        return
    text, keyboard = card_view(meal, svc)
    await edit_message(context, note.chat_id, note.message_id, text, keyboard)
    await record_card(svc, meal.id, note.chat_id, note.message_id)
