"""The scheduler's rule per claimed summary, without Telegram or a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from meallog.store.views import SummaryClaim
from meallog.summary_decision import Verdict, decide

OSLO_21 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 21:00 in Oslo (UTC+1)


def claim(due_at: datetime, last: date | None = None, tz: str = "Europe/Oslo", user: int = 1) -> SummaryClaim:
    return SummaryClaim(user, user, tz, 21 * 60, due_at, OSLO_21, last, {}, {})


def test_due_now_is_sent_for_today_and_the_next_is_tomorrow_at_the_same_wall_time() -> None:
    decision = decide(claim(OSLO_21), OSLO_21)
    assert (decision.verdict, decision.day) == (Verdict.SEND, date(2026, 3, 10))
    assert decision.next_due == datetime(2026, 3, 11, 20, 0, tzinfo=UTC)


def test_a_day_already_summed_up_is_not_sent_again() -> None:
    decision = decide(claim(OSLO_21, last=date(2026, 3, 10)), OSLO_21)
    assert decision.verdict is Verdict.DONE and decision.next_due == datetime(2026, 3, 11, 20, 0, tzinfo=UTC)


def test_found_after_its_day_is_over_it_is_skipped_and_today_planned() -> None:
    two_days_later = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    decision = decide(claim(OSLO_21), two_days_later)
    assert decision.verdict is Verdict.LATE and decision.day is None
    assert decision.next_due == datetime(2026, 3, 12, 20, 0, tzinfo=UTC), "today's, at 21:00 Oslo"


def test_someone_off_a_non_empty_allow_list_gets_the_day_counted_silently() -> None:
    assert decide(claim(OSLO_21, user=7), OSLO_21, frozenset({1})).verdict is Verdict.NOT_ALLOWED
    assert decide(claim(OSLO_21, user=1), OSLO_21, frozenset({1})).verdict is Verdict.SEND
    assert decide(claim(OSLO_21, user=7), OSLO_21).verdict is Verdict.SEND, "an empty list allows everyone"


def test_a_zone_that_cannot_be_read_counts_as_utc() -> None:
    at_21_utc = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    decision = decide(claim(at_21_utc, tz="Mars/Olympus"), at_21_utc)
    assert decision.verdict is Verdict.SEND and decision.next_due == datetime(2026, 3, 11, 21, 0, tzinfo=UTC)
