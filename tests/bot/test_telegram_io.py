"""What is retried, and what is paced, when the bot talks to the Bot API (the loopback server)."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import NetworkError
from telegram.ext import ExtBot

from bot.telegram_io import MessageBudget, Pace, RetryingRequest, bulk_messages, message_budget
from tests.telegram_fake import FakeTelegram


async def _no_wait(_seconds: float) -> None:
    return None


def _bot(tg: FakeTelegram, limiter: MessageBudget | None = None) -> ExtBot[int]:
    return ExtBot(
        tg.token,
        base_url=tg.bot_api_url,
        base_file_url=tg.file_api_url,
        request=RetryingRequest(sleep=_no_wait),
        rate_limiter=limiter,
    )


async def test_an_edit_that_meets_5xx_is_retried_a_send_is_not(tg: FakeTelegram) -> None:
    ann = tg.user(1001, "Ann")
    async with _bot(tg) as bot:
        sent = await bot.send_message(ann.chat_id, "one")
        tg.fail_next("editMessageText", status=502, count=2)
        await bot.edit_message_text("two", chat_id=ann.chat_id, message_id=sent.message_id)
        assert tg.message(ann.chat_id, sent.message_id).text == "two"
        tg.fail_next("sendMessage", status=500)
        with pytest.raises(NetworkError):
            await bot.send_message(ann.chat_id, "three")
    assert [m.text for m in tg.bot_messages(ann.chat_id)] == ["two"], (
        "a send that failed is not repeated here"
    )


async def test_typing_is_not_charged_against_the_messages_a_second(tg: FakeTelegram) -> None:
    ann = tg.user(1001, "Ann")
    async with _bot(tg, message_budget(2)) as bot:
        started = time.monotonic()
        await asyncio.gather(*(bot.send_chat_action(ann.chat_id, "typing") for _ in range(10)))
        typing_took = time.monotonic() - started
        started = time.monotonic()
        await asyncio.gather(*(bot.send_message(ann.chat_id, f"m{n}") for n in range(4)))
        sends_took = time.monotonic() - started
    assert sends_took >= 1.0, "4 messages at 2 a second are paced"
    assert typing_took < sends_took / 2, "10 chat actions went straight through"


async def test_paid_broadcasts_send_past_the_free_limit_and_edits_stay_within_it(tg: FakeTelegram) -> None:
    ann = tg.user(1001, "Ann")
    tg.rate_limit(overall_per_second=30)
    async with _bot(tg, message_budget(30, paid=True)) as bot:
        started = time.monotonic()
        sent = await asyncio.gather(*(bot.send_message(ann.chat_id, f"card {n}") for n in range(90)))
        sends_took = time.monotonic() - started
        started = time.monotonic()
        await asyncio.gather(
            *(bot.edit_message_text("saved", chat_id=ann.chat_id, message_id=m.message_id) for m in sent[:45])
        )
        edits_took = time.monotonic() - started
    assert all(call.get("allow_paid_broadcast") is True for call in tg.calls_to("sendMessage"))
    assert not any("allow_paid_broadcast" in call for call in tg.calls_to("editMessageText"))
    assert tg.stats.served_429 == 0
    assert sends_took < 2.0, "90 paid sends are not held to 30 a second"
    assert edits_took >= 1.0, "45 edits are"


async def test_the_pace_keeps_every_window_and_loses_no_capacity_to_a_late_loop() -> None:
    pace = Pace(20)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def message() -> None:
        await pace.acquire()
        starts.append(loop.time())
        time.sleep(0.015)  # a busy event loop: every waiter is woken a little late

    began = loop.time()
    await asyncio.gather(*(message() for _ in range(60)))
    took = loop.time() - began
    assert max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts) <= 20
    assert max(sum(1 for t in starts if s <= t < s + 1 / 15) for s in starts) <= 2
    assert took < 3.5, f"60 messages at 20 a second took {took:.1f} s (a one-token bucket: 3.9)"


def _most_in_one_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


async def test_cards_go_before_the_summaries_and_the_summaries_still_go(tg: FakeTelegram) -> None:
    """60 summaries (bulk) are going out when 30 cards come: the cards go out at once, ahead of the
    summaries still waiting, and every summary still goes, all within the limit."""
    tg.rate_limit(overall_per_second=30)
    budget = message_budget(30)
    bot = _bot(tg, budget)
    person = tg.user(7001, "Ann")
    loop = asyncio.get_running_loop()
    summaries: list[float] = []
    cards: list[float] = []

    async def summary() -> None:
        with bulk_messages():
            await bot.send_message(person.chat_id, "🌙 Your day")
        summaries.append(loop.time())

    async def card() -> None:
        await bot.send_message(person.chat_id, "🍽 Rice")
        cards.append(loop.time())

    async with bot:
        began = loop.time()
        bulk = [asyncio.create_task(summary()) for _ in range(60)]
        await asyncio.sleep(0.5)  # the summaries are under way: now people send photos
        cards_began = loop.time()
        await asyncio.gather(*(card() for _ in range(30)))
        cards_took = loop.time() - cards_began
        await asyncio.gather(*bulk)
    cards_done = cards_began + cards_took
    # At most the few summaries already queued (BULK_AT_ONCE) went out while the cards did.
    assert sum(1 for t in summaries if cards_began <= t <= cards_done) <= 6
    assert cards_took < 1.6, f"30 cards took {cards_took:.1f} s behind the summaries"
    assert len(summaries) == 60 and tg.stats.served_429 == 0
    assert loop.time() - began < 6  # the summaries go on once the cards are out
