"""The fake's parse_mode handling: plain text and entities like Telegram's, and its "can't parse" errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.telegram_fake.formatting import EntityParseError, parse


def bold(offset: int, length: int) -> dict[str, Any]:
    return {"type": "bold", "offset": offset, "length": length}


@pytest.mark.parametrize(
    ("source", "mode", "text", "entities"),
    [
        ("<b>200 g</b> rice &lt;cooked&gt; &amp; AT&T", "HTML", "200 g rice <cooked> & AT&T", [bold(0, 5)]),
        ("🍚 <b>rice</b>", "HTML", "🍚 rice", [bold(3, 4)]),  # offsets in UTF-16 units
        ("  <b> padded </b>  ", "HTML", "padded", [bold(0, 6)]),
        (
            '<a href="https://x.org/?a=1&amp;b=2">link</a>',
            "HTML",
            "link",
            [{"type": "text_link", "offset": 0, "length": 4, "url": "https://x.org/?a=1&b=2"}],
        ),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "HTML",
            "x = 1",
            [{"type": "pre", "offset": 0, "length": 5, "language": "python"}],
        ),
        ("*200 g* rice 1\\.5 kcal\\!", "MarkdownV2", "200 g rice 1.5 kcal!", [bold(0, 5)]),
        (
            "[link](https://e.com/a\\)b) `co\\`de`",
            "MarkdownV2",
            "link co`de",
            [
                {"type": "text_link", "offset": 0, "length": 4, "url": "https://e.com/a)b"},
                {"type": "code", "offset": 5, "length": 5},
            ],
        ),
        (
            ">quote\n>more\nafter",
            "MarkdownV2",
            "quote\nmore\nafter",
            [{"type": "blockquote", "offset": 0, "length": 10}],
        ),
        ("*bold* 1.5!", "Markdown", "bold 1.5!", [bold(0, 4)]),
        ("<b>as is</b>", None, "<b>as is</b>", []),
    ],
)
def test_parse(source: str, mode: str | None, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse(source, mode) == (text, entities)


@pytest.mark.parametrize(
    ("source", "mode", "error"),
    [
        ("1 <rice> bowl", "HTML", 'Unsupported start tag "rice" at byte offset 2'),
        ("a<br>b", "HTML", 'Unsupported start tag "br" at byte offset 1'),
        ("<b>x</i>", "HTML", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1.5 kcal", "MarkdownV2", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "MarkdownV2", "Can't find end of Bold entity at byte offset 0"),
        ("_x", "Markdown", "Can't find end of the entity starting at byte offset 0"),
    ],
)
def test_parse_errors(source: str, mode: str, error: str) -> None:
    with pytest.raises(EntityParseError) as excinfo:
        parse(source, mode)
    assert str(excinfo.value) == error
