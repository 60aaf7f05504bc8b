"""Errors reach the operator: each new kind of error goes to `ADMIN_CHAT_ID`, with its update and
traceback, at most once per kind an hour and `MAX_PER_HOUR` in all, so a storm of one failure is one
message, not a thousand. The log has every error; the admin chat is the alarm bell."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from telegram import Bot, Update
from telegram.constants import ParseMode

_LOGGER = logging.getLogger(__name__)

#: A kind of error is reported again after this long.
QUIET = timedelta(hours=1)
#: At most this many reports an hour, whatever the kinds.
MAX_PER_HOUR = 20
#: Telegram's limit on a message, less room for the tags.
_ROOM = 3900


def error_kind(error: BaseException) -> str:
    """What makes two errors "the same kind": the exception's type and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__name__} at {where}"


def report_text(kind: str, error: BaseException, update: object) -> str:
    """The admin message: the kind, the update (its JSON) and the traceback, clipped to fit."""
    if isinstance(update, Update):
        shown = json.dumps(update.to_dict(), ensure_ascii=False, default=str)
    else:
        shown = repr(update)
    trace = "".join(traceback.format_exception(error))
    budget = _ROOM - len(kind)
    shown = shown[: budget // 3]
    trace = trace[-(budget - len(shown)) :]
    return (
        f"⚠️ <b>{escape(kind)}</b>\n<b>Update</b>\n<pre>{escape(shown)}</pre>\n"
        f"<b>Traceback</b>\n<pre>{escape(trace)}</pre>"
    )


class ErrorReporter:
    """Sends reports to the admin chat in the background, rate-limited (see the module docstring)."""

    def __init__(self, bot: Bot, chat_id: int, clock: Callable[[], datetime]) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._clock = clock
        self._last: dict[str, datetime] = {}
        self._sent: deque[datetime] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def report(self, error: BaseException, update: object) -> bool:
        """Report the error unless its kind was reported lately or the hour's reports are spent."""
        now = self._clock()
        kind = error_kind(error)
        last = self._last.get(kind)
        if last is not None and now - last < QUIET:
            return False
        while self._sent and now - self._sent[0] >= timedelta(hours=1):
            self._sent.popleft()
        if len(self._sent) >= MAX_PER_HOUR:
            return False
        self._last[kind] = now
        self._sent.append(now)
        task = asyncio.create_task(self._send(report_text(kind, error, update)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _send(self, text: str) -> None:
        try:
            await self._bot.send_message(self._chat_id, text, parse_mode=ParseMode.HTML)
        except Exception:  # the alarm bell must never be what takes the bot down
            _LOGGER.exception("could not send the error report to the admin chat %s", self._chat_id)

    async def drain(self) -> None:
        """Wait for the reports in flight (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def admin_reporter(bot: Bot, chat_id: int | None, clock: Callable[[], datetime]) -> ErrorReporter | None:
    """The reporter for `ADMIN_CHAT_ID`, or None when no admin chat is set."""
    return ErrorReporter(bot, chat_id, clock) if chat_id is not None else None
