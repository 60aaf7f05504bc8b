"""The summary's text and the calendar arithmetic of when it falls due (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meallog.db.models import MealStatus
from meallog.goals import Goals
from meallog.portions import Macros
from meallog.store.views import ItemView, MealView
from meallog.summaries import (
    daily_message,
    largest_contributors,
    progress_bar,
    summary_text,
)
from meallog.summary_times import (
    catch_up_day,
    first_due,
    moved_due,
    next_due,
    parse_clock,
    parse_when,
    resume_due,
    summary_day,
    summary_instant,
)
from meallog.text_fit import MAX_TEXT
from tests.telegram_fake import formatting

OSLO = "Europe/Oslo"
TZ = ZoneInfo(OSLO)
DAY = date(2026, 5, 5)


def _item(n: int, name: str, grams: float, kcal: float) -> ItemView:
    macros = Macros(kcal, kcal * 0.05, kcal * 0.04, kcal * 0.1)
    return ItemView(n, n, name.lower(), name, grams, "1 serving", macros, "typed", None)


def _meal(n: int, hour: int, *items: ItemView, caption: str | None = None) -> MealView:
    eaten = datetime(2026, 5, 5, hour, 15, tzinfo=TZ).astimezone(UTC)
    return MealView(n, 1, MealStatus.SAVED, eaten, DAY, caption, None, None, None, None, tuple(items), None)


MEALS = [
    _meal(1, 8, _item(1, "Egg", 100, 143), _item(2, "Coffee", 240, 2), caption="Breakfast"),
    _meal(2, 13, _item(3, "Pizza", 300, 800), _item(4, "Egg", 50, 72)),
]


def test_progress_bars() -> None:
    assert progress_bar(0, 2000) == "▱▱▱▱▱▱▱▱▱▱    0%"
    assert progress_bar(1000, 2000) == "▰▰▰▰▰▱▱▱▱▱   50%"
    assert progress_bar(2500, 2000) == "▰▰▰▰▰▰▰▰▰▰  125% ⚠️ over"
    assert progress_bar(1940, 2000) == "▰▰▰▰▰▰▰▰▰▱   97%", "just under: a cell left, unlike a day over"
    assert progress_bar(2060, 2000) == "▰▰▰▰▰▰▰▰▰▰  103% ⚠️ over"
    assert progress_bar(2000, 2000) == "▰▰▰▰▰▰▰▰▰▰  100%"
    assert progress_bar(10, 0) == ""


def test_largest_contributors_add_up_the_same_food() -> None:
    assert largest_contributors(MEALS) == [("Pizza", 800.0), ("Egg", 215.0), ("Coffee", 2.0)]


def test_summary_with_goals_meals_and_contributors() -> None:
    text = summary_text(DAY, MEALS, Goals(2000, 100, 70, 250), OSLO)
    assert text.startswith("🌙 <b>Your day: Tuesday, 5 May</b>")
    assert "kcal" in text and "1017/2000" in text and "▰▰▰▰▰▱▱▱▱▱   51%" in text
    assert "1. <b>Breakfast</b> 08:15 — 145 kcal" in text and "Egg 100 g, Coffee 240 g" in text
    assert "2. <b>Meal 2</b> 13:15 — 872 kcal" in text
    assert "🔝 <b>Largest:</b> Pizza 800 kcal (79%), Egg 215 kcal (21%), Coffee 2 kcal (0%)" in text


def test_summary_without_goals_invites_to_set_them() -> None:
    text = summary_text(DAY, MEALS, None, OSLO)
    assert "1017 kcal · protein" in text and "/goal" in text and "▰" not in text


def test_a_day_of_many_meals_fits_one_message() -> None:
    many = [_meal(n, 12, _item(n, f"Food number {n} with a long name", 100, 50)) for n in range(1, 400)]
    text = summary_text(DAY, many, Goals(2000, 100, 70, 250), OSLO)
    assert len(formatting.parse(text, "HTML")[0]) <= MAX_TEXT, "what Telegram counts: the visible text"
    assert "more" in text and "Largest" in text


def test_an_empty_day_nudges_or_stays_silent() -> None:
    nudge = daily_message(DAY, [], {}, {}, OSLO)
    assert nudge is not None and "Nothing logged today" in nudge
    assert daily_message(DAY, [], {}, {"empty_day": "silent"}, OSLO) is None
    assert daily_message(DAY, MEALS, {}, {"empty_day": "silent"}, OSLO) is not None


def test_user_text_is_escaped() -> None:
    meal = _meal(1, 9, _item(1, "Mac & cheese", 200, 300), caption="<b>lunch</b>")
    text = summary_text(DAY, [meal], None, OSLO)
    assert "&lt;b&gt;lunch&lt;/b&gt;" in text and "Mac &amp; cheese" in text


# -- when it falls due --------------------------------------------------------------------------------


def test_the_summary_instant_in_a_zone() -> None:
    assert summary_instant(DAY, 21 * 60, OSLO) == datetime(2026, 5, 5, 19, 0, tzinfo=UTC)  # summer +2
    assert summary_instant(date(2026, 1, 5), 21 * 60, OSLO) == datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    assert summary_instant(DAY, 21 * 60, "America/New_York") == datetime(2026, 5, 6, 1, 0, tzinfo=UTC)


def test_days_follow_the_calendar_across_dst() -> None:
    # Spring forward in Oslo on 29 March 2026: that day has 23 hours.
    assert next_due(date(2026, 3, 28), 21 * 60, OSLO) - summary_instant(date(2026, 3, 28), 21 * 60, OSLO) == (
        timedelta(hours=23)
    )
    # A wall time in the gap (02:30, a night time: 28 March's summary, out on the 29th) falls due after
    # it (03:30 local), on its own delivery day.
    gap = summary_instant(date(2026, 3, 28), 150, OSLO)
    assert gap.astimezone(TZ).date() == date(2026, 3, 29) and gap.astimezone(TZ).hour == 3
    assert summary_day(gap, 150, OSLO) == date(2026, 3, 28)
    # A wall time that happens twice (02:30 on 25 October) falls due at the first.
    fold = summary_instant(date(2026, 10, 24), 150, OSLO)
    assert fold == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_due(date(2026, 10, 24), 150, OSLO) - fold == timedelta(hours=25)


def test_first_plan_today_if_ahead_else_tomorrow() -> None:
    morning = datetime(2026, 5, 5, 6, tzinfo=UTC)
    assert first_due(morning, 1260, OSLO, None) == datetime(2026, 5, 5, 19, tzinfo=UTC)
    late = datetime(2026, 5, 5, 20, tzinfo=UTC)
    assert first_due(late, 1260, OSLO, None) == datetime(2026, 5, 6, 19, tzinfo=UTC)
    on_the_minute = datetime(2026, 5, 5, 19, 0, 30, tzinfo=UTC)
    assert first_due(on_the_minute, 1260, OSLO, None) == datetime(2026, 5, 5, 19, tzinfo=UTC)
    assert first_due(morning, 1260, OSLO, DAY) == datetime(2026, 5, 6, 19, tzinfo=UTC), "done already"


def test_a_new_time_keeps_the_day_owed() -> None:
    owed_today = datetime(2026, 5, 5, 19, tzinfo=UTC)
    at_2030 = datetime(2026, 5, 5, 18, 30, tzinfo=UTC)
    # 21:00 → 20:00 at 20:30: today's is due at once (20:00 has passed), not dropped.
    assert moved_due(owed_today, 1260, at_2030, 1200, OSLO, None) == datetime(2026, 5, 5, 18, tzinfo=UTC)
    # After today's went out, tomorrow's moves.
    tomorrow = datetime(2026, 5, 6, 19, tzinfo=UTC)
    assert moved_due(tomorrow, 1260, at_2030, 1200, OSLO, DAY) == datetime(2026, 5, 6, 18, tzinfo=UTC)
    # Never planned: planned afresh.
    assert moved_due(None, 1260, at_2030, 1200, OSLO, None) == datetime(2026, 5, 6, 18, tzinfo=UTC)


def test_a_late_summary_goes_out_on_its_own_day_only() -> None:
    due = datetime(2026, 5, 5, 19, tzinfo=UTC)
    assert catch_up_day(due, 1260, datetime(2026, 5, 5, 21, 30, tzinfo=UTC), OSLO) == DAY  # 23:30 local
    assert catch_up_day(due, 1260, datetime(2026, 5, 5, 22, 30, tzinfo=UTC), OSLO) is None  # 00:30 next day


def test_a_night_time_sums_up_the_day_that_just_ended() -> None:
    """00:30 in Oslo (summer, +2): the summary of 5 May goes out at 00:30 on 6 May."""
    half_past_midnight = 30
    due = summary_instant(DAY, half_past_midnight, OSLO)
    assert due == datetime(2026, 5, 5, 22, 30, tzinfo=UTC)
    assert summary_day(due, half_past_midnight, OSLO) == DAY
    assert next_due(DAY, half_past_midnight, OSLO) == datetime(2026, 5, 6, 22, 30, tzinfo=UTC)
    assert catch_up_day(due, half_past_midnight, due + timedelta(hours=3), OSLO) == DAY
    assert catch_up_day(due, half_past_midnight, due + timedelta(hours=23, minutes=29), OSLO) == DAY
    assert catch_up_day(due, half_past_midnight, due + timedelta(hours=24), OSLO) is None, "6 May is over"
    # Someone new at 00:10: yesterday was before their time; the first summary is of today, tomorrow.
    ten_past = datetime(2026, 5, 5, 22, 10, tzinfo=UTC)  # 00:10 on 6 May
    assert first_due(ten_past, half_past_midnight, OSLO, None) == datetime(2026, 5, 6, 22, 30, tzinfo=UTC)
    # After downtime: the summary delivered today (of yesterday) still goes out today.
    noon = datetime(2026, 5, 6, 10, tzinfo=UTC)
    assert resume_due(noon, half_past_midnight, OSLO) == due
    assert resume_due(noon, 1260, OSLO) == datetime(2026, 5, 6, 19, tzinfo=UTC)
    # 03:59 is still night; 04:00 is a morning summary of the same day.
    assert summary_day(summary_instant(DAY, 239, OSLO), 239, OSLO) == DAY
    assert summary_instant(DAY, 240, OSLO).astimezone(TZ).date() == DAY


def test_moving_the_time_across_midnight_keeps_the_day_owed() -> None:
    owed_today = datetime(2026, 5, 5, 19, tzinfo=UTC)  # 21:00 on 5 May
    at_2030 = datetime(2026, 5, 5, 18, 30, tzinfo=UTC)
    # 21:00 → 00:30 in the evening: today's goes out after midnight.
    assert moved_due(owed_today, 1260, at_2030, 30, OSLO, None) == datetime(2026, 5, 5, 22, 30, tzinfo=UTC)
    # 00:30 → 01:00 at 00:15: yesterday's is still owed, at 01:00.
    owed_tonight = datetime(2026, 5, 5, 22, 30, tzinfo=UTC)
    at_0015 = datetime(2026, 5, 5, 22, 15, tzinfo=UTC)
    assert moved_due(owed_tonight, 30, at_0015, 60, OSLO, None) == datetime(2026, 5, 5, 23, 0, tzinfo=UTC)
    # 00:30 → 21:00 at 00:15: yesterday's 21:00 is over; today's is planned for tonight.
    assert moved_due(owed_tonight, 30, at_0015, 1260, OSLO, None) == datetime(2026, 5, 6, 19, tzinfo=UTC)


def test_a_night_nudge_does_not_call_yesterday_today() -> None:
    nudge = daily_message(DAY, [], {}, {}, OSLO, next_morning=True)
    assert nudge is not None and "Nothing logged that day. Today," in nudge and "Tuesday, 5 May" in nudge


@pytest.mark.parametrize(
    ("text", "minute"),
    [("21:30", 1290), ("9.15", 555), ("7pm", 1140), ("21", 1260), ("9:30 am", 570), ("12 am", 0)],
)
def test_clock_times(text: str, minute: int) -> None:
    assert parse_clock(text) == minute


@pytest.mark.parametrize("text", ["25:00", "9:75", "13pm", "soon", ""])
def test_not_clock_times(text: str) -> None:
    assert parse_clock(text) is None


def test_a_typed_day_and_time_for_a_meal() -> None:
    now = datetime(2026, 5, 6, 18, tzinfo=UTC)  # 20:00 in Oslo
    current = datetime(2026, 5, 6, 17, tzinfo=UTC)  # 19:00 in Oslo
    assert parse_when("13:30", now, OSLO, current) == datetime(2026, 5, 6, 11, 30, tzinfo=UTC)
    assert parse_when("yesterday", now, OSLO, current) == datetime(2026, 5, 5, 17, tzinfo=UTC)
    assert parse_when("yesterday 8 am", now, OSLO, current) == datetime(2026, 5, 5, 6, tzinfo=UTC)
    assert parse_when("2026-05-01 12:00", now, OSLO, current) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_when("4.5.", now, OSLO, current) == datetime(2026, 5, 4, 17, tzinfo=UTC)
    assert parse_when("lunch", now, OSLO, current) is None
