"""How the bot talks to the Bot API: which requests are retried, what the 30 a second is spent on.

* `RetryingRequest` tries a request again, with backoff, when that cannot do harm: the request never
  left (no connection, the pool full), or the method is idempotent (an edit, a download, a chat
  action, a callback answer) and Telegram answered 5xx or timed out. A send that failed halfway is not
  repeated here; the journal retries the whole update instead (`bot.journal`), and the handlers make
  that safe (one meal per message, versioned buttons).
* `message_budget` paces sends and edits — the messages Telegram counts against a bot's 30 a second
  — and nothing else: chat actions go past it, so "typing…" never costs a card its place. With paid
  broadcasts on, sends may go faster (up to 1,000 a second) and the model becomes the limit.
* `show_typing` shows "typing…" in the background and forgets it: it cannot fail or slow an answer,
  and under load (photos waiting for the model) it is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram import Bot
from telegram._utils.types import JSONDict
from telegram.constants import ChatAction
from telegram.error import NetworkError, TimedOut
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest, RequestData

_LOGGER = logging.getLogger(__name__)

#: Methods that do the same when done twice.
IDEMPOTENT = frozenset(
    {
        "getMe",
        "getFile",
        "getUpdates",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendChatAction",
        "answerCallbackQuery",
        "setMyCommands",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "leaveChat",
    }
)
#: Methods that are no message: not paced with the sends and edits.
UNMETERED = frozenset({"sendChatAction", "leaveChat"})
#: Sends that may be paid broadcasts (Telegram has no paid edits).
PAYABLE = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
#: Tries after the first, and the first wait (doubling each time).
RETRIES = 3
BACKOFF_S = 0.25
#: PTB's limiter retries a 429 this many times after its `retry_after` before the caller sees it.
RATE_LIMITER_RETRIES = 3
#: How long a request waits for a free connection before it counts as failed. PTB's default (1 s)
#: drops requests under a burst on a slow Bot API server; a request that waits is a request not lost.
POOL_TIMEOUT_S = 30.0
CONNECTIONS = 128

_typing_tasks: set[asyncio.Task[None]] = set()


def _not_sent(error: BaseException) -> bool:
    """Whether the request failed before it reached the server (so repeating it cannot double it)."""
    cause = error.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class RetryingRequest(HTTPXRequest):
    """PTB's HTTP request, retrying what is safe to retry (see the module docstring)."""

    def __init__(self, *, sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep) -> None:
        super().__init__(connection_pool_size=CONNECTIONS, pool_timeout=POOL_TIMEOUT_S)
        self._sleep = sleep

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        repeatable = endpoint in IDEMPOTENT or "/file/bot" in url
        for attempt in range(RETRIES + 1):
            last = attempt == RETRIES
            try:
                code, payload = await super().do_request(
                    url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
                )
            except NetworkError as exc:  # includes TimedOut
                if last or not (_not_sent(exc) or repeatable):
                    raise
                _LOGGER.info("%s failed (%s); try %d of %d", endpoint, exc, attempt + 2, RETRIES + 1)
            else:
                if code < 500 or last or not repeatable:
                    return code, payload
                _LOGGER.info("%s answered %d; try %d of %d", endpoint, code, attempt + 2, RETRIES + 1)
            await self._sleep(BACKOFF_S * 2**attempt)
        raise TimedOut("unreachable")  # pragma: no cover (the loop returns or raises)


class MessageBudget(AIORateLimiter):
    """PTB's limiter for sends and edits; chat actions and other non-messages go straight through.

    With `paid`, sends go out as paid broadcasts (`allow_paid_broadcast`: up to 1,000 a second, paid
    in Telegram Stars, paced by PTB's own limiter for them); edits stay within the free budget.
    """

    def __init__(self, *args: Any, paid: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paid = paid

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if endpoint in UNMETERED:
            return await callback(*args, **kwargs)
        if self._paid and endpoint in PAYABLE:
            data["allow_paid_broadcast"] = True  # `data` is the request's own parameters
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def message_budget(messages_per_second: float, *, paid: bool = False) -> MessageBudget:
    """Sends and edits paced evenly at just under `messages_per_second`.

    PTB's default (30 per 1 s) lets a burst of 30 through at once and then 30 a second, so a window of
    one second can see nearly twice the limit. Here the bucket holds 2 % of a second's worth (at least
    one message) and refills at 97 % of the limit, so no one-second window exceeds the limit. Group
    chats keep PTB's 20 a minute; a 429 is retried `RATE_LIMITER_RETRIES` times after `retry_after`.
    """
    burst = max(1, math.floor(messages_per_second * 0.02))
    pace = messages_per_second * 0.97
    return MessageBudget(
        overall_max_rate=burst,
        overall_time_period=burst / pace,
        max_retries=RATE_LIMITER_RETRIES,
        paid=paid,
    )


def show_typing(bot: Bot, chat_id: int, *, busy: bool) -> None:
    """Show "typing…" in the chat, in the background; skipped when `busy`. Never raises."""
    if busy:
        return
    task = asyncio.create_task(_typing(bot, chat_id))
    _typing_tasks.add(task)
    task.add_done_callback(_typing_tasks.discard)


async def _typing(bot: Bot, chat_id: int) -> None:
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except Exception as exc:  # a courtesy: its failure decides nothing
        _LOGGER.debug("typing indicator for %s not shown: %s", chat_id, exc)
