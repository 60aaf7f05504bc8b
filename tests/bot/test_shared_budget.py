"""One token, one budget: processes that share a bot token share Telegram's 30 messages a second and
its 429 pauses through Redis (`bot.shared_budget`), here with real Redis and two budgets standing for
two replicas."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from telegram.error import RetryAfter

from bot.shared_budget import SharedPace
from bot.telegram_io import MessageBudget
from tests.services import redis_url

PER_SECOND = 30


@pytest.fixture
async def replicas() -> AsyncIterator[list[MessageBudget]]:
    """Two replicas' budgets for one token, on a key prefix of this test's own."""
    prefix = f"foodbot-test-{uuid.uuid4().hex[:8]}"
    budgets = [
        MessageBudget(
            PER_SECOND,
            shared=SharedPace(
                Redis.from_url(redis_url()), "123:token", MessageBudget.free_per_second(30), prefix
            ),
        )
        for _ in range(2)
    ]
    yield budgets
    for budget in budgets:
        await budget.shutdown()
    redis = Redis.from_url(redis_url())
    async for key in redis.scan_iter(match=f"{prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def _send(budget: MessageBudget, sent: list[float], fail_first: list[bool] | None = None) -> None:
    async def callback() -> dict[str, Any]:
        if fail_first:
            fail_first.pop()
            raise RetryAfter(1)
        sent.append(time.monotonic())
        return {}

    await budget.process_request(callback, (), {}, "sendMessage", {"chat_id": 1}, None)


def _most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_two_replicas_send_no_more_than_one_budget(replicas: list[MessageBudget]) -> None:
    sent: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(_send(budget, sent) for budget in replicas for _ in range(60)))
    elapsed = time.monotonic() - started
    assert len(sent) == 120
    # Counted as sent here: the shared windows hold 28 a second, the rest of Telegram's 30 is for jitter.
    assert _most_in_one_second(sent) <= PER_SECOND
    assert elapsed >= 120 / 28 - 1.2, "two replicas did not get a budget each"


async def test_a_429_met_by_one_replica_pauses_the_other(replicas: list[MessageBudget]) -> None:
    first, second = replicas
    sent: list[float] = []
    hit = asyncio.create_task(_send(first, sent, fail_first=[True]))
    redis = Redis.from_url(redis_url())
    pause_key = first_pace_key(first)
    for _ in range(500):  # the 429 has come back and paused the token
        if (left := await redis.pttl(pause_key)) > 0:
            break
        await asyncio.sleep(0.01)
    await redis.aclose()
    paused_until = time.monotonic() + left / 1000
    await _send(second, sent)
    await hit
    assert min(sent) >= paused_until - 0.05, "the other replica waited out Telegram's retry_after"


def first_pace_key(budget: MessageBudget) -> str:
    shared = budget._shared  # the test's own look at which key holds the pause
    assert shared is not None
    return shared.keys[2]


async def test_hundreds_of_waiting_messages_take_one_redis_connection_at_a_time() -> None:
    """A burst of cards all waiting for the budget: each process claims one at a time, so a Redis pool
    of a few connections is never exhausted (the cluster bench saw photos fail with "Too many
    connections" when every waiting message polled Redis on its own)."""
    prefix = f"foodbot-test-{uuid.uuid4().hex[:8]}"
    pace = SharedPace(Redis.from_url(redis_url(), max_connections=2), "123:token", 200, prefix)
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(pace.acquire() for _ in range(300)), return_exceptions=True), timeout=30
        )
    finally:
        await pace.close()
    assert [o for o in outcomes if o is not None] == []


async def test_without_its_redis_the_budget_paces_this_process_alone() -> None:
    """Redis away: messages still go out, at this process's own pace (at most 28 in any second)."""
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    budget = MessageBudget(PER_SECOND, shared=SharedPace(unreachable, "123:token", 28, "foodbot-test"))
    sent: list[float] = []
    try:
        await asyncio.wait_for(asyncio.gather(*(_send(budget, sent) for _ in range(40))), timeout=30)
    finally:
        await budget.shutdown()
    assert len(sent) == 40
    assert _most_in_one_second(sent) <= 28
