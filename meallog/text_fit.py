"""Texts that always fit Telegram's limits: clipped echoes, HTML built from whole pieces, pages of lists.

Telegram refuses a message over 4,096 characters (a caption over 1,024) and HTML with a tag or an entity
cut in half, and a refused answer leaves the person with no answer at all. So person-typed text is clipped
before it is escaped (clipping escaped text could cut `&amp;` in two), and HTML is only ever shortened
between whole, well-formed pieces, with a note saying how many were left out.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Telegram's limits on a message's text and a media caption, after the HTML is parsed.
MAX_TEXT = 4096
MAX_CAPTION = 1024
#: How much of a person's own text a reply quotes back ("I don't know the timezone “…”").
ECHO_CHARS = 80

_TAG = re.compile(r"<[^>]*>")


def clip(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start and "…" in exactly `limit`.

    For plain text only: escape the result afterwards, never clip HTML.
    """
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, made one space: a caption as a title."""
    return " ".join(text.split())


def visible_len(html_text: str) -> int:
    """How long Telegram counts `html_text` after parsing: tags take no room, an entity takes one character.

    Counted in UTF-16 code units (an emoji takes two), which is never less than the number of characters,
    so a text within this count is within the limit however Telegram counts.
    """
    visible = html.unescape(_TAG.sub("", html_text))
    return len(visible.encode("utf-16-le")) // 2


def more_note(left_out: int) -> str:
    """The default note for pieces that did not fit."""
    return f"… and {left_out} more"


def fit_html(
    parts: Sequence[str],
    limit: int = MAX_TEXT,
    *,
    sep: str = "\n",
    tail: Sequence[str] = (),
    more: Callable[[int], str] = more_note,
) -> str:
    """`parts` joined with `sep`, as many as fit within `limit`, then `tail` (joined with `sep` too).

    Each part must be well-formed HTML on its own (a line, a block); the text is only ever cut between
    parts, and a cut ends with `more(number left out)`. The `tail` (totals, a footer) is always kept whole,
    so it must fit by itself.
    """
    gap = visible_len(sep)
    ending = sep.join(tail)
    room = limit - (visible_len(ending) + gap if tail else 0)
    sizes = [visible_len(part) for part in parts]
    if sum(sizes) + gap * max(len(parts) - 1, 0) <= room:
        kept = list(parts)
    else:
        used = 0
        count = 0
        for size in sizes:
            grown = used + (gap if count else 0) + size
            note = gap + visible_len(more(len(parts) - count - 1))
            if grown + note > room:
                break
            used, count = grown, count + 1
        kept = [*parts[:count], more(len(parts) - count)]
    return sep.join([*kept, ending] if tail else kept)


@dataclass(frozen=True, slots=True)
class Page:
    """Page `number` (from 0) of `pages` of a list of `count` entries: the entries `start` to `stop`."""

    number: int
    pages: int
    start: int
    stop: int
    count: int


def page_of(count: int, number: int, size: int) -> Page:
    """Page `number` of `count` entries, `size` a page.

    A number out of range is moved to the first or last page: a button pressed after meals were deleted
    still shows what is there.
    """
    pages = max(1, math.ceil(count / size))
    number = min(max(number, 0), pages - 1)
    start = number * size
    return Page(number=number, pages=pages, start=start, stop=min(count, start + size), count=count)
