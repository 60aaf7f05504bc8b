"""Messages the bot cannot log (stickers, voice, polls…) and venues: a reply that says what it can do.

Every message gets an answer; silence reads as a broken bot.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ParseMode

from bot.handlers.common import Context

CAN_DO = (
    "{what} isn't something I can log. I understand meal photos 📸, typed meals like "
    "<i>200 g rice</i> or <i>2 eggs</i>, and commands like /today and /help."
)
VENUE = (
    "That's a place, so I haven't changed your timezone. To set it from where you are, share your own "
    "location (📎 → Location), or type it, like /timezone Europe/Oslo."
)

#: Message attribute → how to name it to the person (the first one present wins).
_KINDS = (
    ("sticker", "A sticker"),
    ("voice", "A voice message"),
    ("video_note", "A video message"),
    ("animation", "A GIF"),
    ("video", "A video"),
    ("audio", "Audio"),
    ("contact", "A contact"),
    ("poll", "A poll"),
    ("dice", "A dice roll"),
    ("game", "A game"),
    ("story", "A story"),
)


def kind_of(message: Message) -> str:
    """What the person sent, in words."""
    return next((name for attribute, name in _KINDS if getattr(message, attribute, None)), "That")


async def on_unsupported(update: Update, context: Context) -> None:
    """Anything no other handler took: say what the bot understands."""
    message = update.message
    if message is not None:
        await message.reply_text(CAN_DO.format(what=kind_of(message)), parse_mode=ParseMode.HTML)


async def on_venue(update: Update, context: Context) -> None:
    """A shared venue: not the person's location, so not their timezone."""
    if update.message is not None:
        await update.message.reply_text(VENUE)
