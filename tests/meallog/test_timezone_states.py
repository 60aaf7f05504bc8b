"""A US state typed for the timezone is the state, not a small foreign town of the same name; a name
that is a big city and a big state on different clocks is asked about."""

from __future__ import annotations

import pytest

from meallog.timezones import read_timezone


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Arizona", "America/Phoenix"),
        ("Colorado", "America/Denver"),
        ("Oregon", "America/Los_Angeles"),
        ("New York", "America/New_York"),
    ],
)
def test_a_state_is_taken_over_a_small_town_of_its_name(typed: str, zone: str) -> None:
    assert read_timezone(typed).zone == zone


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        ("Virginia", "America/New_York"),
        ("Washington", "America/Los_Angeles"),
        ("Montana", "America/Denver"),
    ],
)
def test_a_close_call_between_a_city_and_a_state_is_asked(typed: str, offered: str) -> None:
    reading = read_timezone(typed)
    assert reading.zone is None and offered in [place.zone for place in reading.choices or ()]
