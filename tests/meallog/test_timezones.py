"""Loose timezone answers become IANA names; unknown ones get "did you mean" suggestions."""

from __future__ import annotations

import zoneinfo

import pytest

from meallog.timezones import resolve_timezone, suggest_timezones


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Europe/Oslo", "Europe/Oslo"),
        ("europe/oslo", "Europe/Oslo"),
        ("EUROPE/OSLO", "Europe/Oslo"),
        (" europe / oslo ", "Europe/Oslo"),
        ("america/new york", "America/New_York"),
        ("US/Eastern", "US/Eastern"),
        ("Etc/UTC", "Etc/UTC"),
    ],
)
def test_exact_names_ignore_case_and_spacing(typed: str, expected: str) -> None:
    assert resolve_timezone(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Oslo", "Europe/Oslo"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("los angeles", "America/Los_Angeles"),
        ("São Paulo", "America/Sao_Paulo"),
        ("sao paulo", "America/Sao_Paulo"),
        ("port au prince", "America/Port-au-Prince"),
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("singapore", "Asia/Singapore"),
        ("tokyo", "Asia/Tokyo"),
    ],
)
def test_a_city_finds_its_zone(typed: str, expected: str) -> None:
    assert resolve_timezone(typed) == expected


@pytest.mark.parametrize("typed", ["UTC", "utc", "GMT", "gmt", "Zulu", "GMT+0"])
def test_universal_time_words_are_utc(typed: str) -> None:
    assert resolve_timezone(typed) == "UTC"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("UTC+2", "Etc/GMT-2"), ("gmt - 5", "Etc/GMT+5"), ("+14", "Etc/GMT-14"), ("UTC+02:00", "Etc/GMT-2")],
)
def test_whole_hour_offsets_map_to_etc_zones_with_posix_sign(typed: str, expected: str) -> None:
    assert resolve_timezone(typed) == expected
    assert zoneinfo.ZoneInfo(expected).key == expected


@pytest.mark.parametrize(
    "typed", ["", "   ", "hello", "europe/olso", "eastern", "UTC+5:30", "UTC+15", "localtime"]
)
def test_unclear_or_unknown_answers_resolve_to_nothing(typed: str) -> None:
    assert resolve_timezone(typed) is None


def test_every_resolved_name_loads() -> None:
    for typed in ("oslo", "new york", "utc", "utc+3", "kyiv", "indianapolis"):
        name = resolve_timezone(typed)
        assert name is not None
        zoneinfo.ZoneInfo(name)


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("europe/olso", "Europe/Oslo"),
        ("osloo", "Europe/Oslo"),
        ("new yrok", "America/New_York"),
        ("berln", "Europe/Berlin"),
        ("moscw", "Europe/Moscow"),
        ("sidney", "Australia/Sydney"),
    ],
)
def test_typos_get_the_right_suggestion_first(typed: str, first: str) -> None:
    suggestions = suggest_timezones(typed)
    assert resolve_timezone(typed) is None
    assert suggestions[0] == first
    assert len(suggestions) <= 3
    assert len(set(suggestions)) == len(suggestions)
    assert all(name in zoneinfo.available_timezones() for name in suggestions)


def test_ambiguous_words_list_each_candidate() -> None:
    assert {"US/Eastern", "Canada/Eastern"} <= set(suggest_timezones("eastern"))


def test_limit_is_respected() -> None:
    assert len(suggest_timezones("europe", limit=1)) <= 1
    assert suggest_timezones("europe/olso", limit=0) == []


@pytest.mark.parametrize("typed", ["", "xyzzy", "hello", "12345"])
def test_nonsense_gets_no_suggestions(typed: str) -> None:
    assert suggest_timezones(typed) == []


def test_an_abbreviation_is_the_regions_zone_and_the_reply_says_so() -> None:
    from meallog.timezones import abbreviation_note, resolve_timezone

    assert resolve_timezone("EST") == "America/New_York", "not tzdata's fixed UTC-5 EST"
    assert resolve_timezone("pst") == "America/Los_Angeles"
    assert "EST taken as America/New_York" in abbreviation_note("est")
    assert abbreviation_note("Europe/Oslo") == ""


def test_abbreviated_legacy_names_are_not_offered_as_cities() -> None:
    """ "Australia/LHI" is no city called LHI: "Dehli" must not bring it up (Delhi is Asia/Kolkata)."""
    assert "Australia/LHI" not in suggest_timezones("dehli")
    assert "Australia/LHI" not in suggest_timezones("delhi")
    assert resolve_timezone("australia/lhi") == "Australia/LHI", "still a valid name typed in full"
