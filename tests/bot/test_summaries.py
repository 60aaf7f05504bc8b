"""The summary's text and the calendar arithmetic of when it falls due (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.goals import Goals
from bot.portions import Macros
from bot.store.views import ItemView, MealView
from bot.summaries import (
    MAX_TEXT,
    daily_message,
    largest_contributors,
    progress_bar,
    summary_text,
)
from bot.summary_times import (
    catch_up_day,
    first_due,
    moved_due,
    next_due,
    parse_clock,
    parse_when,
    summary_instant,
)

OSLO = "Europe/Oslo"
TZ = ZoneInfo(OSLO)
DAY = date(2026, 5, 5)


def _item(n: int, name: str, grams: float, kcal: float) -> ItemView:
    macros = Macros(kcal, kcal * 0.05, kcal * 0.04, kcal * 0.1)
    return ItemView(n, n, name.lower(), name, grams, "1 serving", macros, "typed", None)


def _meal(n: int, hour: int, *items: ItemView, caption: str | None = None) -> MealView:
    eaten = datetime(2026, 5, 5, hour, 15, tzinfo=TZ).astimezone(UTC)
    return MealView(n, 1, "saved", eaten, DAY, caption, None, None, None, None, tuple(items), None)


MEALS = [
    _meal(1, 8, _item(1, "Egg", 100, 143), _item(2, "Coffee", 240, 2), caption="Breakfast"),
    _meal(2, 13, _item(3, "Pizza", 300, 800), _item(4, "Egg", 50, 72)),
]


def test_progress_bars() -> None:
    assert progress_bar(0, 2000) == "▱▱▱▱▱▱▱▱▱▱    0%"
    assert progress_bar(1000, 2000) == "▰▰▰▰▰▱▱▱▱▱   50%"
    assert progress_bar(2500, 2000) == "▰▰▰▰▰▰▰▰▰▰  125%"
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
    assert len(text) <= MAX_TEXT
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
    # A wall time in the gap (02:30) falls due after it (03:30 local), on its own day.
    gap = summary_instant(date(2026, 3, 29), 150, OSLO)
    assert gap.astimezone(TZ).date() == date(2026, 3, 29) and gap.astimezone(TZ).hour == 3
    # A wall time that happens twice (02:30 on 25 October) falls due at the first.
    fold = summary_instant(date(2026, 10, 25), 150, OSLO)
    assert fold == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_due(date(2026, 10, 25), 150, OSLO) - fold == timedelta(hours=25)


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
    assert moved_due(owed_today, at_2030, 1200, OSLO, None) == datetime(2026, 5, 5, 18, tzinfo=UTC)
    # After today's went out, tomorrow's moves.
    tomorrow = datetime(2026, 5, 6, 19, tzinfo=UTC)
    assert moved_due(tomorrow, at_2030, 1200, OSLO, DAY) == datetime(2026, 5, 6, 18, tzinfo=UTC)
    # Never planned: planned afresh.
    assert moved_due(None, at_2030, 1200, OSLO, None) == datetime(2026, 5, 6, 18, tzinfo=UTC)


def test_a_late_summary_goes_out_on_its_own_day_only() -> None:
    due = datetime(2026, 5, 5, 19, tzinfo=UTC)
    assert catch_up_day(due, datetime(2026, 5, 5, 21, 30, tzinfo=UTC), OSLO) == DAY  # 23:30 local
    assert catch_up_day(due, datetime(2026, 5, 5, 22, 30, tzinfo=UTC), OSLO) is None  # 00:30 next day


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
