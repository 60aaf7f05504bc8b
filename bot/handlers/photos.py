"""A meal photo (or an image sent as a file) → recognition → a draft meal and its card."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatAction

from bot.handlers.cards import send_card
from bot.handlers.common import Context
from bot.photo_choice import TELEGRAM_DOWNLOAD_LIMIT, choose_photo_size
from bot.services import Services, services
from bot.store.views import NewItem
from model.images import image_format

_LOGGER = logging.getLogger(__name__)

NOT_A_PHOTO = "That file isn't a photo I can read. Send a JPEG, PNG, WebP or HEIC picture of your meal."
TOO_BIG = "That file is over 20 MB, more than Telegram lets me download. Send it as a photo instead."


async def on_photo(update: Update, context: Context) -> None:
    """A photo: download the smallest size that fills the model's input, recognize, show the card."""
    message = update.effective_message
    if message is None or not message.photo:
        return
    svc = services(context)
    size = choose_photo_size(message.photo, svc.input_size)
    if size is None:
        await message.reply_text(TOO_BIG)
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    data = bytes(await (await size.get_file()).download_as_bytearray())
    await _recognize_and_reply(update, context, svc, data, size.file_id, size.file_unique_id)


async def on_document(update: Update, context: Context) -> None:
    """An image sent as a file: accepted when it is a photo format, refused kindly otherwise."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    document = message.document
    svc = services(context)
    if (document.file_size or 0) > TELEGRAM_DOWNLOAD_LIMIT:
        await message.reply_text(TOO_BIG)
        return
    mime = (document.mime_type or "").lower()
    name = (document.file_name or "").lower()
    looks_like_image = mime.startswith("image/") or name.endswith(
        (".heic", ".heif", ".jpg", ".jpeg", ".png", ".webp")
    )
    if not looks_like_image:
        await message.reply_text(NOT_A_PHOTO)
        return
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    data = bytes(await (await document.get_file()).download_as_bytearray())
    if image_format(data) is None:
        await message.reply_text(NOT_A_PHOTO)
        return
    await _recognize_and_reply(update, context, svc, data, document.file_id, document.file_unique_id)


async def _recognize_and_reply(
    update: Update, context: Context, svc: Services, data: bytes, file_id: str, unique_id: str
) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    await svc.people.ensure_user(user.id, message.chat_id)
    recognition = await svc.queue.recognize(data)
    if recognition.error:
        await message.reply_text(recognition.error)
        return
    items = []
    for food in recognition.present:
        row = svc.table.get(food.key)
        if row is None:
            _LOGGER.warning("model food %r is not in the nutrition table", food.key)
            continue
        items.append(NewItem(food.key, row.portion_g, source="model", confidence=food.confidence))
    meal = await svc.meals.start_draft(
        user.id,
        eaten_at=message.date.astimezone(UTC) if message.date else datetime.now(UTC),
        photo_file_id=file_id,
        photo_unique_id=unique_id,
        caption=message.caption,
        recognition=recognition,
        items=items,
    )
    if not meal.items:
        await svc.people.set_pending(user.id, {"kind": "search", "meal_id": meal.id, "item_id": 0})
    await send_card(context, message.chat_id, meal, svc)
