"""When a person's daily summary falls due: pure functions over `zoneinfo`, no I/O.

A summary time is a wall-clock time in the person's zone, kept as minutes after local midnight
(21:00 is 1260). Each due moment is stored as an aware UTC instant: the summary of local day D is due
at D's summary time, and once it is sent (or found too late, see `catch_up_day`) the next one is due
at the same wall time on D + 1. A night time (before `NIGHT_END_MINUTE`, 04:00) sums up the day that
has just ended: the summary of D is due at 00:30 on D + 1, because someone who picks 00:30 (a late
evening, a night shift) wants the evening they just had, not the half hour since midnight. The day a
summary goes out on is its *delivery day*. Days are counted on the calendar, never as 24-hour steps, so
a daylight-saving change neither skips nor doubles a day:

* a wall time that does not exist that day (spring forward, e.g. 02:30 in Europe/Oslo on the last
  Sunday of March) falls due at the same distance after the gap, 03:30, still on that day;
* a wall time that happens twice (fall back) falls due at its first occurrence, once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from meallog.local_time import local_date_of

#: 21:00, the default summary time.
DEFAULT_SUMMARY_MINUTE = 21 * 60
MINUTES_PER_DAY = 24 * 60
#: Summary times before 04:00 sum up the previous day (see the module docstring).
NIGHT_END_MINUTE = 4 * 60
#: A summary time up to this long ago still counts as ahead when planning: the minute tick that plans
#: a new person at 21:00:00.3 must not push their 21:00 summary to tomorrow.
PLANNING_SLACK = timedelta(minutes=1)

_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3])(?:[:.h]\s*([0-5]\d))?\s*(am|pm)?\s*$", re.IGNORECASE)


def check_minute(minute: int) -> int:
    """`minute` if it is a valid time of day in minutes (0 to 1439); ValueError otherwise."""
    if not isinstance(minute, int) or not 0 <= minute < MINUTES_PER_DAY:
        raise ValueError(f"a time of day is 0 to {MINUTES_PER_DAY - 1} minutes, not {minute!r}")
    return minute


def minute_text(minute: int) -> str:
    """`21:00` for 1260."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def summary_time_text(minute: int) -> str:
    """`21:00`; a night time says which day it sums up, `00:30 (for the day before)`."""
    return f"{minute_text(minute)} (for the day before)" if sums_up_yesterday(minute) else minute_text(minute)


def parse_clock(text: str) -> int | None:
    """Minutes after midnight for `21:30`, `9.15`, `7pm`, `21`, `9:30 am`; None for anything else."""
    found = _CLOCK.match(text)
    if found is None:
        return None
    hour = int(found.group(1))
    minute = int(found.group(2) or 0)
    suffix = (found.group(3) or "").lower()
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    return hour * 60 + minute


def sums_up_yesterday(minute: int) -> bool:
    """Whether a summary at `minute` is sent the morning after the day it sums up (a night time)."""
    return check_minute(minute) < NIGHT_END_MINUTE


def _days_late(minute: int) -> timedelta:
    """How many days after the summed-up day the summary goes out: one for a night time, else none."""
    return timedelta(days=1 if sums_up_yesterday(minute) else 0)


def summary_instant(day: date, minute: int, tz: str) -> datetime:
    """When the summary of local `day` is due: wall time `minute` on its delivery day, as UTC.

    The delivery day is `day` itself, or the next one for a night time; see the module docstring for
    wall times that DST skips or repeats.
    """
    delivery = day + _days_late(minute)
    wall = datetime.combine(delivery, time(minute // 60, minute % 60), tzinfo=ZoneInfo(tz))  # fold=0
    return wall.astimezone(UTC)


def summary_day(due_at: datetime, minute: int, tz: str) -> date:
    """The local day whose summary is due at `due_at` (a wall time never leaves its delivery day)."""
    return local_date_of(due_at, tz) - _days_late(minute)


def first_due(now: datetime, minute: int, tz: str, last_sent: date | None) -> datetime:
    """A new schedule: today's summary time if it is still ahead, otherwise tomorrow's.

    For a person who was never scheduled (just met the bot): summing up a day they have not logged
    yet, moments after saying hello, would only be noise. A day already summed up is never due again.
    """
    today = local_date_of(now, tz)
    day = today
    if last_sent is not None and last_sent >= day:
        day = last_sent + timedelta(days=1)
    due = summary_instant(day, minute, tz)
    if due < now - PLANNING_SLACK:
        due = summary_instant(day + timedelta(days=1), minute, tz)
    return due


def moved_due(
    old_due: datetime | None,
    old_minute: int,
    now: datetime,
    minute: int,
    tz: str,
    last_sent: date | None,
) -> datetime:
    """After a change of summary time: the summary owed next keeps its day and takes the new time.

    Changing 21:00 to 20:00 at 20:30 therefore sends today's summary at once rather than dropping it,
    changing it after today's went out moves tomorrow's, and changing 21:00 to 00:30 sends today's
    after midnight. When the owed summary could no longer go out on its delivery day at the new time
    (00:30 changed to 21:00 at 00:15: yesterday's 21:00 is over), or there is no plan (never planned,
    overdue), it is planned afresh (`first_due`).
    """
    if old_due is not None:
        day = summary_day(old_due, old_minute, tz)
        if day + _days_late(minute) >= local_date_of(now, tz):
            return summary_instant(day, minute, tz)
    return first_due(now, minute, tz, last_sent)


def next_due(day: date, minute: int, tz: str) -> datetime:
    """After the summary of local `day` is done: the same wall time on the next calendar day."""
    return summary_instant(day + timedelta(days=1), minute, tz)


def catch_up_day(due_at: datetime, minute: int, now: datetime, tz: str) -> date | None:
    """The local day to sum up now for a summary that fell due at `due_at`, or None if it is too late.

    A summary goes out late (after downtime) on its own delivery day only; once that day is over it is
    skipped, and the caller plans the one delivered today instead (`resume_due`).
    """
    if local_date_of(now, tz) != local_date_of(due_at, tz):
        return None
    return summary_day(due_at, minute, tz)


def resume_due(now: datetime, minute: int, tz: str) -> datetime:
    """After a summary was found too late: the one whose delivery day is today.

    Its time may have passed already today; it then goes out at the next tick, still on its day.
    """
    return summary_instant(local_date_of(now, tz) - _days_late(minute), minute, tz)


class WhenError(ValueError):
    """A day understood but refused for a meal; `str(error)` is a friendly message to show as is."""


_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[./](\d{1,2})\.?$")


def _parse_day(word: str, today: date) -> date | None:
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        found = _DATE.match(word)
        if found is not None:
            return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        found = _DAY_MONTH.match(word)
        if found is not None:
            day = date(today.year, int(found.group(2)), int(found.group(1)))
            return day if day <= today else day.replace(year=today.year - 1)
    except ValueError:
        return None
    return None


def parse_when(
    text: str, now: datetime, tz: str, current: datetime, max_days_back: int | None = None
) -> datetime | None:
    """A day and/or a time typed for a meal: `13:30`, `yesterday`, `yesterday 19:00`, `2025-05-04 12:00`,
    `4.5. 8am`. What is left out stays as `current` has it (in zone `tz`).

    None when not understood, or when the moment is outside what a datetime holds ("0001-01-01 00:00" in
    Asia/Tokyo is in year 0 in UTC). Raises `WhenError` for a day more than `max_days_back` local days
    before today: a meal saved there ("1000-01-01") would show in no history, only in the export.
    """
    zone = ZoneInfo(tz)
    local = current.astimezone(zone)
    today = local_date_of(now, tz)
    words = text.strip().lower().split()
    if not words or len(words) > 3:
        return None
    day: date | None = None
    if words and _parse_day(words[0], today) is not None:
        day = _parse_day(words.pop(0), today)
    minute = parse_clock(" ".join(words)) if words else None
    if words and minute is None:
        return None
    if day is None and minute is None:
        return None
    if minute is None:
        minute = local.hour * 60 + local.minute
    day = day or local.date()
    if max_days_back is not None and (today - day).days > max_days_back:
        raise WhenError(f"That's too long ago — I keep meals of the last {max_days_back} days.")
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    try:
        return wall.astimezone(UTC)
    except OverflowError:
        return None


def utc_now() -> datetime:
    """The real clock (tests give the scheduler another)."""
    return datetime.now(UTC)
