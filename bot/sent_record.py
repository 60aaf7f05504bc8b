"""Writing down what a message that already went out became, through a moment without the database.

Once Telegram has accepted a message, the record of it is what stops a later try from sending it again:
a meal card's message id (`MealStore.set_card`; a retried photo update sends a card only for a meal
without one) and a day summed up (`SummaryStore.finish_summaries`; a summary whose claim was never
finished is sent again once its lease runs out). If that one write fails because the database was away
for a moment (its connections cut, a failover, a restart), the whole update or tick fails after the
message went out, and its retry sends the message a second time. So these writes, and only these, are
tried again over about 8 seconds while the error is transient (`meallog.db.engine.is_transient`): a
database away for longer than that can still double one message, nothing else can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from meallog.db.engine import is_transient

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

#: The waits between tries: about 8 s in all, longer than a cut connection takes to be replaced.
WAITS_S = (0.25, 0.5, 1.0, 2.0, 4.0)


async def record_sent(
    write: Callable[[], Awaitable[T]],
    what: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`write()`, tried again after each of `WAITS_S` while it fails with a transient database error."""
    for wait in WAITS_S:
        try:
            return await write()
        except Exception as error:
            if not is_transient(error):
                raise
            _LOGGER.warning("could not record %s (%s); trying again in %.2f s", what, error, wait)
            await sleep(wait)
    return await write()
