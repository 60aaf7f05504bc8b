"""A press answered twice (an update tried again) or too late does not fail the update (`FoodBot`)."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.telegram_bot import FoodBot
from tests.telegram_fake import FakeTelegram


async def test_a_second_answer_to_a_press_counts_as_given() -> None:
    async with FakeTelegram() as tg:
        person = tg.user(7001, "Ann")
        async with FoodBot[None](tg.token, base_url=tg.bot_api_url, base_file_url=tg.file_api_url) as bot:
            card = await bot.send_message(
                person.chat_id,
                "Rice 200 g",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Save", callback_data="s")]]),
            )
            await person.press(tg.message(person.chat_id, card.message_id), "s")
            query_id = tg.last_update("callback_query")["callback_query"]["id"]
            assert await bot.answer_callback_query(query_id, "Saved") is True
            # The same update handled again after a failure answers again: Telegram refuses, the
            # handler goes on to its real work.
            assert await bot.answer_callback_query(query_id, "Saved") is False
            assert tg.callback_answers[query_id]["text"] == "Saved"
            # Any other refusal is still an error.
            with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                await bot.send_message(4242, "hello?")
