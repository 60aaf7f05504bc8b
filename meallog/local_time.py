"""Local time of day for a person: pure functions over `zoneinfo`, no I/O and no database.

Meals are stored in UTC; "today" and "this evening" are the person's own, so every conversion from a UTC
instant to the person's calendar goes through here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_date_of(utc: datetime, tz: str) -> date:
    """The calendar day in the IANA zone `tz` (e.g. "Europe/Oslo") at the instant `utc`.

    `utc` must be timezone-aware (any offset; it names an instant). A naive datetime is refused with
    ValueError rather than guessed at; an unknown zone name raises `zoneinfo.ZoneInfoNotFoundError`.
    """
    if utc.tzinfo is None or utc.utcoffset() is None:
        raise ValueError("local_date_of needs a timezone-aware datetime")
    return utc.astimezone(ZoneInfo(tz)).date()
