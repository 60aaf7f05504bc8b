"""The application's one clock: real UTC time, unless a test put another in `bot_data[CLOCK_KEY]`.

Handlers (`now_of`), the stores (given `clock_of(app)` read at each call, see `bot.app`), the update
journal and the summary tick all read it, so a test that sets the time sets it everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram.ext import Application, CallbackContext

from meallog.store.base import Clock
from meallog.summary_times import utc_now

CLOCK_KEY = "foodbot.clock"


def clock_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Clock:
    """The application's clock."""
    found: Clock = application.bot_data.get(CLOCK_KEY, utc_now)
    return found


def now_of(context: CallbackContext[Any, Any, Any, Any]) -> datetime:
    """The current instant by the application's clock."""
    return clock_of(context.application)()
