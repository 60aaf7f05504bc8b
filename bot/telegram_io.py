"""How the bot talks to the Bot API: which requests are retried, what the 30 a second is spent on.

* `RetryingRequest` tries a request again, with backoff, when that cannot do harm: the request never
  left (no connection, the pool full), or the method is idempotent (an edit, a download, a chat
  action, a callback answer) and Telegram answered 5xx or timed out. A send that failed halfway is not
  repeated here; the journal retries the whole update instead (`bot.journal`), and the handlers make
  that safe (one meal per message, versioned buttons).
* `message_budget` paces sends and edits — the messages Telegram counts against a bot's 30 a second
  — and nothing else: chat actions go past it, so "typing…" never costs a card its place. With paid
  broadcasts on, sends may go faster (up to 1,000 a second) and the model becomes the limit. Bulk
  messages (`bulk_messages`: the daily summaries) queue for the budget a few at a time, and each waits
  while this process has messages people are waiting for (cards, a button's answer), up to
  `BULK_PATIENCE_S`, so a card is never behind many summaries and summaries never starve.
* `typing_while_slow` shows "typing…" in the background when an answer takes more than half a second:
  it cannot fail or slow an answer, and under load (photos waiting for the model) it is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import warnings
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from redis.exceptions import RedisError
from telegram import Bot
from telegram._utils.types import JSONDict
from telegram.constants import ChatAction
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.request import HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

if TYPE_CHECKING:  # Redis is imported only by a bot that shares its budget (`bot.shared_budget`)
    from bot.shared_budget import SharedPace

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
#: A 429 is retried this many times after its `retry_after` before the caller sees it.
RATE_LIMITER_RETRIES = 3
#: The share of the limit the bot uses, leaving room for a message's arrival to be late or early.
HEADROOM = 0.95
#: Telegram's limit on paid broadcasts a second.
PAID_PER_SECOND = 1000
#: How long a request waits for a free connection before it counts as failed. PTB's default (1 s)
#: drops requests under a burst on a slow Bot API server; a request that waits is a request not lost.
POOL_TIMEOUT_S = 30.0
CONNECTIONS = 128

#: How long a bulk message (a daily summary) lets the messages people are waiting for go first before
#: it takes its turn with them: summaries never starve, and a card waits behind at most a few of them.
BULK_PATIENCE_S = 1.0
#: Bulk messages in the queue for the budget at once (per process): a card waits behind at most these.
BULK_AT_ONCE = 4
_BULK: ContextVar[bool] = ContextVar("foodbot_bulk_messages", default=False)

#: "typing…" is shown only when an answer takes longer than this.
TYPING_AFTER_S = 0.5


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


class Pace:
    """At most `per_second` starts in any one second, and a fifteenth of that (rounded up) in any
    fifteenth of a second, granted first come, first served.

    A token bucket that holds one token (PTB's limiter as the bot used it) loses capacity whenever the
    event loop wakes a waiter late, which a busy bot does all the time: at 30 a second a few ms of lag
    per message cost a tenth of the budget. Windows count what was actually sent, so a late waiter is
    let through at once; the short window keeps the messages spread over the second, so their arrival
    at Telegram, which is never quite as even as their start, stays within the limit there too.
    """

    def __init__(self, per_second: int) -> None:
        if per_second < 1:
            raise ValueError("a pace lets at least one message through a second")
        limits = ((per_second, 1.0), (max(1, math.ceil(per_second / 15)), 1 / 15))
        #: Each window: its limit, its length, and the starts within it (oldest first).
        self._windows = [(limit, period, deque[float]()) for limit, period in limits]
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more start fits in every window, then count it."""
        loop = asyncio.get_running_loop()
        async with self._turn:
            while True:
                now = loop.time()
                wait = 0.0
                for limit, period, starts in self._windows:
                    while starts and starts[0] <= now - period:
                        starts.popleft()
                    if len(starts) >= limit:
                        wait = max(wait, starts[0] + period - now)
                if wait <= 0:
                    for _limit, _period, starts in self._windows:
                        starts.append(now)
                    return
                await asyncio.sleep(wait)


class MessageBudget(BaseRateLimiter[int]):
    """Paces the messages Telegram counts against a bot (sends and edits: requests naming a chat),
    `Pace`; chat actions and everything else go straight through.

    A 429 pauses every message until its `retry_after` has passed, then the request is tried again,
    up to `max_retries` times. With `paid`, sends go out as paid broadcasts (`allow_paid_broadcast`: up
    to 1,000 a second, paid in Telegram Stars) in a window of their own; edits cannot be paid and stay
    in the free one.
    """

    def __init__(
        self,
        per_second: float,
        *,
        paid: bool = False,
        max_retries: int = RATE_LIMITER_RETRIES,
        shared: SharedPace | None = None,
    ) -> None:
        self._local = Pace(self.free_per_second(per_second))
        self._free: Pace | SharedPace = shared or self._local
        self._shared = shared
        self._paid = Pace(PAID_PER_SECOND) if paid else None
        self._max_retries = max_retries
        self._flowing = asyncio.Event()
        self._flowing.set()
        #: Messages people are waiting for, in this process, waiting for the budget or being sent.
        self._urgent = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()
        self._bulk_turns = asyncio.Semaphore(BULK_AT_ONCE)

    @staticmethod
    def free_per_second(per_second: float) -> int:
        """Messages a second the free window lets through: `HEADROOM` of Telegram's limit."""
        return max(1, math.floor(per_second * HEADROOM))

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Close the shared budget's Redis connection, if there is one."""
        if self._shared is not None:
            await self._shared.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if endpoint in UNMETERED or data.get("chat_id") is None:
            return await callback(*args, **kwargs)
        window = self._free
        if self._paid is not None and endpoint in PAYABLE:
            data["allow_paid_broadcast"] = True  # `data` is the request's own parameters
            window = self._paid
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        async with self._turn():
            for attempt in range(retries + 1):
                await self._flowing.wait()
                await self._acquire(window)
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    if attempt == retries:
                        raise
                    wait = retry_seconds(exc) + 0.1
                    _LOGGER.info("Telegram asks to wait %.1f s (429); every message waits", wait)
                    if self._shared is not None:  # every replica of this token waits, not this one only
                        try:
                            await self._shared.pause(wait)
                        except RedisError as error:
                            _LOGGER.warning("could not share a 429's pause (%s); this process waits", error)
                    self._flowing.clear()
                    try:
                        await asyncio.sleep(wait)
                    finally:
                        self._flowing.set()
            raise AssertionError("unreachable")  # pragma: no cover (the loop returns or raises)

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """A message's place among this process's others. A bulk one queues for the budget only a few
        at a time, so a card is never behind many of them, and lets what people wait for go first, for
        a while; any other is counted as waited for until it is sent."""
        if _BULK.get():
            async with self._bulk_turns:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._no_urgent.wait(), BULK_PATIENCE_S)
                yield
            return
        self._urgent += 1
        self._no_urgent.clear()
        try:
            yield
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._no_urgent.set()

    async def _acquire(self, window: Pace | SharedPace) -> None:
        """Wait for `window`; while the shared budget's Redis cannot be reached, this process paces
        itself instead, so messages still go out (a 429 then is met with its pause, like any other)."""
        if window is not self._shared:
            await window.acquire()
            return
        try:
            await window.acquire()
        except RedisError as error:
            _LOGGER.warning("shared message budget unavailable (%s); pacing this process alone", error)
            await self._local.acquire()


@contextmanager
def bulk_messages() -> Iterator[None]:
    """Messages sent within are bulk: they let what people are waiting for go first (`BULK_PATIENCE_S`).
    The daily summaries go out this way."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def retry_seconds(exc: RetryAfter) -> float:
    """How long a 429 asks to wait, in seconds (PTB is moving `retry_after` to a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def message_budget(
    messages_per_second: float, *, paid: bool = False, shared: SharedPace | None = None
) -> MessageBudget:
    """Sends and edits paced at 95 % of `messages_per_second` in any one second (`Pace`), across every
    process of the token when `shared` (`bot.shared_budget`)."""
    return MessageBudget(messages_per_second, paid=paid, shared=shared)


@asynccontextmanager
async def typing_while_slow(bot: Bot, chat_id: int, *, busy: bool) -> AsyncIterator[None]:
    """Show "typing…" if what the block does takes longer than `TYPING_AFTER_S` (a quick answer needs
    none); in the background, skipped when `busy`, never raising, stopped when the block ends."""
    task = None if busy else asyncio.create_task(_typing_later(bot, chat_id))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()


async def _typing_later(bot: Bot, chat_id: int) -> None:
    await asyncio.sleep(TYPING_AFTER_S)
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except Exception as exc:  # a courtesy: its failure decides nothing
        _LOGGER.debug("typing indicator for %s not shown: %s", chat_id, exc)
