"""What to do with one claimed daily summary: the scheduler's rule, as a plain function.

`decide` knows nothing of Telegram or the database: given a claim, the time and the allow-list it
says whether the summary is too late (plan today's instead), already sent for its day, not for this
person (not on a non-empty `ALLOWED_USER_IDS`), or to be composed and sent, and when the next one is
due. `bot.schedule.SummaryScheduler` applies it to each claim and does the sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from meallog.store.views import SummaryClaim
from meallog.summary_times import catch_up_day, next_due, resume_due


class Verdict(StrEnum):
    LATE = "late"  # its local day is over: skip it, plan today's
    DONE = "done"  # that day was already summed up
    NOT_ALLOWED = "not_allowed"  # the person is not on the allow-list: the day counts as done, silently
    SEND = "send"  # compose the day's summary and send it


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, the local day the summary is about (None when late), and when the next is due."""

    verdict: Verdict
    day: date | None
    next_due: datetime


def decide(claim: SummaryClaim, now: datetime, allowed: frozenset[int] = frozenset()) -> Decision:
    """The decision for one claim at `now` (module docstring). A zone that cannot be read counts as UTC."""
    zone = claim.timezone if known_zone(claim.timezone) else "UTC"
    day = catch_up_day(claim.due_at, claim.summary_minute, now, zone)
    if day is None:
        return Decision(Verdict.LATE, None, resume_due(now, claim.summary_minute, zone))
    following = next_due(day, claim.summary_minute, zone)
    if claim.last_date is not None and claim.last_date >= day:
        return Decision(Verdict.DONE, day, following)
    if allowed and claim.user_id not in allowed:
        return Decision(Verdict.NOT_ALLOWED, day, following)
    return Decision(Verdict.SEND, day, following)


@lru_cache(maxsize=1024)
def known_zone(tz: str) -> bool:
    """Whether `tz` names a zone this machine knows (never stored otherwise, but one bad row must not
    stop everyone's summaries)."""
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError):
        return False
    return True
