"""The bot object every foodbot process talks to Telegram through: PTB's `ExtBot`, and one rule of ours.

A button press is answered (`answerCallbackQuery`) to stop the spinner on the person's button; Telegram
accepts one answer per press and none after about 15 seconds ("query is too old and response timeout
expired or query ID is invalid"). An update tried again after a failure (the database away for a moment,
its process killed) answers its press a second time, and a press handled late answers after the
timeout: neither is a reason to fail the update, whose real work (saving the meal, editing the card) is
still to be done. So that one refusal is logged and the answer counts as given.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from telegram.error import BadRequest
from telegram.ext import ExtBot

_LOGGER = logging.getLogger(__name__)

RateArgs = TypeVar("RateArgs")

#: How Telegram refuses an answer to a press answered before or too long ago (lower case).
STALE_QUERY = "query is too old"


def is_stale_query(error: BadRequest) -> bool:
    """Whether Telegram refused a callback answer because the press was answered already or is too old."""
    return STALE_QUERY in error.message.lower() or "query id is invalid" in error.message.lower()


class FoodBot(ExtBot[RateArgs]):
    """`ExtBot` whose callback answers never fail an update for a press answered before (module doc)."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as error:
            if not is_stale_query(error):
                raise
            _LOGGER.info("a button press was answered before or is too old to answer: %s", error.message)
            return False
