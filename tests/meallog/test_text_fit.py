"""`meallog.text_fit`: clipped echoes, HTML cut only between whole pieces, pages of long lists."""

from __future__ import annotations

from html import escape

import pytest

from meallog.text_fit import Page, clip, fit_html, more_note, one_line, page_of, visible_len
from tests.telegram_fake import formatting


def _shown(html_text: str) -> str:
    """What Telegram shows of `html_text` (raises as Telegram refuses, for HTML that is not well formed)."""
    text, _entities = formatting.parse(html_text, "HTML")
    return text


def test_clip_keeps_short_text_and_cuts_long_text_to_the_limit_with_an_ellipsis() -> None:
    assert clip("Oslo", 10) == "Oslo"
    assert clip("x" * 10, 10) == "x" * 10
    clipped = clip("Europe/Nowhere at all", 10)
    assert clipped == "Europe/No…" and len(clipped) == 10
    assert clip("a" * 4096, 80) == "a" * 79 + "…"


def test_clipping_before_escaping_never_cuts_an_entity() -> None:
    shown = escape(clip("&" * 200, 80))
    assert _shown(shown) == "&" * 79 + "…"


def test_one_line_collapses_line_breaks_and_runs_of_spaces() -> None:
    assert one_line("  Lunch\n\nwith   Ann\t\r\n ") == "Lunch with Ann"


def test_visible_len_counts_what_telegram_shows() -> None:
    assert visible_len("<b>Mac &amp; cheese</b>") == len("Mac & cheese")
    assert visible_len('<a href="https://x.y">a</a><i>&lt;b&gt;</i>') == 4
    assert visible_len("🍽") == 2, "UTF-16 units: never less than Telegram counts"


def test_fit_html_keeps_everything_that_fits() -> None:
    assert fit_html(["<b>a</b>", "b"], 100) == "<b>a</b>\nb"
    assert fit_html(["a", "b"], 100, tail=["total"]) == "a\nb\ntotal"
    assert fit_html([], 100, tail=["total"]) == "total"


def test_fit_html_cuts_between_whole_pieces_and_says_how_many_are_left() -> None:
    pieces = [f"<b>{n}. Mac &amp; cheese\nwith a line break</b>" for n in range(1, 201)]
    text = fit_html(pieces, 1000, tail=["<b>Total:</b> 12 kcal"])
    shown = _shown(text)  # well formed: no tag or entity cut in half
    assert len(shown) <= 1000 and visible_len(text) <= 1000
    kept = sum(1 for piece in pieces if piece in text)
    assert kept > 10 and f"… and {200 - kept} more" in shown
    assert shown.endswith("Total: 12 kcal"), "the tail is always kept"
    assert visible_len(text) > 1000 - visible_len(pieces[0]) - 30, "no more room than a piece left unused"


def test_fit_html_with_a_custom_separator_and_note() -> None:
    foods = [f"Food {n} 100 g" for n in range(1, 30)]
    line = fit_html(foods, 60, sep=", ", more=lambda n: f"+{n} more")
    assert len(line) <= 60 and line.startswith("Food 1 100 g, Food 2 100 g") and line.endswith("more")


def test_fit_html_drops_a_piece_too_long_for_the_room() -> None:
    assert fit_html(["x" * 50], 20) == more_note(1)


@pytest.mark.parametrize(
    ("count", "number", "expected"),
    [
        (0, 0, Page(0, 1, 0, 0, 0)),
        (10, 0, Page(0, 1, 0, 10, 10)),
        (41, 0, Page(0, 5, 0, 10, 41)),
        (41, 4, Page(4, 5, 40, 41, 41)),
        (41, 9, Page(4, 5, 40, 41, 41)),  # after deletions an old button shows the last page
        (41, -1, Page(0, 5, 0, 10, 41)),
    ],
)
def test_page_of_clamps_to_the_pages_there_are(count: int, number: int, expected: Page) -> None:
    assert page_of(count, number, 10) == expected
