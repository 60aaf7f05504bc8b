"""Turns message text sent with a ``parse_mode`` into plain text plus Bot API entities, as Telegram does.

Telegram rejects malformed markup with ``400 Bad Request: can't parse entities: ...``; the fake does the same
so a bot that forgets to escape user input (a food called ``<rice>``) fails in the tests, not in production.
Entity offsets and lengths are in UTF-16 code units, like the real ones.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any


class EntityParseError(ValueError):
    """The markup could not be parsed; the message is Telegram's text after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


@dataclass
class _Builder:
    """Collects plain text and entities while a parser walks the source."""

    parts: list[str] = field(default_factory=list)
    length16: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length16 += utf16_len(text)

    def entity(self, kind: str, start16: int, **extra: Any) -> None:
        length = self.length16 - start16
        if length > 0:
            self.entities.append({"type": kind, "offset": start16, "length": length, **extra})

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        return _strip("".join(self.parts), self.entities)


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trims surrounding whitespace like Telegram does, moving and clipping the entities to match."""
    stripped = text.strip()
    if not stripped:
        return "", []
    left16 = utf16_len(text[: len(text) - len(text.lstrip())])
    total16 = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - left16, 0)
        end = min(entity["offset"] + entity["length"] - left16, total16)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, kept


def parse(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for ``text`` sent with ``parse_mode`` (None, HTML, MarkdownV2 or Markdown)."""
    if not parse_mode:
        return _strip(text, [])
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise EntityParseError(f"unsupported parse_mode {parse_mode!r}")


# --- HTML -------------------------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_START_TAG = re.compile(
    r"<([a-zA-Z0-9-]+)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTRIBUTE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_END_TAG = re.compile(r"</([a-zA-Z0-9-]*)\s*>")
_CHAR_REF = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")


@dataclass
class _OpenTag:
    name: str
    start16: int
    attributes: dict[str, str]
    language: str | None = None


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    stack: list[_OpenTag] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            ref = _CHAR_REF.match(text, i)
            if ref:
                out.add(html.unescape(ref.group(0)))
                i = ref.end()
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        offset = _byte_offset(text, i)
        if text.startswith("</", i):
            end = _END_TAG.match(text, i)
            if not end:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            name = end.group(1).lower()
            if not stack:
                raise EntityParseError(f'Unexpected end tag "{name}" at byte offset {offset}')
            tag = stack.pop()
            if tag.name != name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{tag.name}>", found "</{name}>"'
                )
            _close_html_tag(out, tag, stack)
            i = end.end()
            continue
        start = _START_TAG.match(text, i)
        name_match = re.match(r"<([a-zA-Z0-9-]*)", text[i:])
        name = (start.group(1) if start else name_match.group(1) if name_match else "").lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        if not start:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        attributes = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTRIBUTE.finditer(start.group(2))
        }
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        stack.append(_OpenTag(name, out.length16, attributes))
        i = start.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _close_html_tag(out: _Builder, tag: _OpenTag, stack: list[_OpenTag]) -> None:
    kind = _HTML_TAGS[tag.name]
    if kind == "code" and stack and stack[-1].name == "pre":
        language = tag.attributes.get("class", "")
        if language.startswith("language-"):
            stack[-1].language = language.removeprefix("language-")
        return
    if kind == "text_link":
        url = tag.attributes.get("href", "")
        if url:
            out.entity(kind, tag.start16, url=url)
        return
    if kind == "pre":
        if tag.language:
            out.entity(kind, tag.start16, language=tag.language)
        else:
            out.entity(kind, tag.start16)
        return
    if kind == "blockquote" and "expandable" in tag.attributes:
        out.entity("expandable_blockquote", tag.start16)
        return
    if kind == "custom_emoji":
        out.entity(kind, tag.start16, custom_emoji_id=tag.attributes.get("emoji-id", ""))
        return
    out.entity(kind, tag.start16)


# --- MarkdownV2 -------------------------------------------------------------------------------------------

_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


@dataclass
class _OpenEntity:
    kind: str
    start16: int
    byte_offset: int


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    stack: list[_OpenEntity] = []
    quote: int | None = None
    i = 0
    while i < len(text):
        char = text[i]
        offset = _byte_offset(text, i)
        at_line_start = i == 0 or text[i - 1] == "\n"
        if char == ">" and at_line_start:
            if quote is None:
                quote = out.length16
            i += 1
            continue
        if char == "\n" and quote is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote)
            quote = None
        if char == "\\":
            if i + 1 < len(text) and 1 <= ord(text[i + 1]) <= 126:
                out.add(text[i + 1])
                i += 2
            else:
                out.add(char)
                i += 1
            continue
        if char == "`":
            i = _v2_code(text, i, out)
            continue
        kind = None
        width = 1
        if char == "*":
            kind = "bold"
        elif char == "~":
            kind = "strikethrough"
        elif char == "_":
            top = stack[-1].kind if stack else None
            if text.startswith("__", i) and top != "italic":
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif char == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif char == "[":
            stack.append(_OpenEntity("text_link", out.length16, offset))
            i += 1
            continue
        elif char == "]" and stack and stack[-1].kind == "text_link":
            i = _v2_link_end(text, i, out, stack.pop())
            continue
        if kind is None:
            if char in _V2_RESERVED:
                raise EntityParseError(
                    f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
                )
            out.add(char)
            i += 1
            continue
        if stack and stack[-1].kind == kind:
            out.entity(kind, stack.pop().start16)
        elif any(entity.kind == kind for entity in stack):
            inner = stack[-1]
            raise EntityParseError(
                f"Can't find end of {_V2_NAMES[inner.kind]} entity at byte offset {inner.byte_offset}"
            )
        else:
            stack.append(_OpenEntity(kind, out.length16, offset))
        i += width
    if stack:
        raise EntityParseError(
            f"Can't find end of {_V2_NAMES[stack[-1].kind]} entity at byte offset {stack[-1].byte_offset}"
        )
    if quote is not None:
        out.entity("blockquote", quote)
    return out.result()


def _v2_code(text: str, i: int, out: _Builder) -> int:
    """Parses `code` or ```pre``` starting at ``i``; returns the index after it."""
    offset = _byte_offset(text, i)
    is_pre = text.startswith("```", i)
    j = i + (3 if is_pre else 1)
    language = ""
    if is_pre:
        newline = text.find("\n", j)
        first_line = text[j:newline] if newline >= 0 else ""
        if newline >= 0 and first_line and not any(c in first_line for c in " `\\"):
            language = first_line
            j = newline + 1
    start16 = out.length16
    fence = "```" if is_pre else "`"
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text) and 1 <= ord(text[j + 1]) <= 126:
            out.add(text[j + 1])
            j += 2
            continue
        if text.startswith(fence, j):
            if is_pre:
                out.entity("pre", start16, **({"language": language} if language else {}))
            else:
                out.entity("code", start16)
            return j + len(fence)
        out.add(text[j])
        j += 1
    name = "Pre" if is_pre else "Code"
    raise EntityParseError(f"Can't find end of {name} entity at byte offset {offset}")


def _v2_link_end(text: str, i: int, out: _Builder, link: _OpenEntity) -> int:
    """Handles ``](url)`` after link text; returns the index after it."""
    j = i + 1
    if not text.startswith("(", j):
        return j
    url_chars: list[str] = []
    j += 1
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text):
            url_chars.append(text[j + 1])
            j += 2
            continue
        if text[j] == ")":
            url = "".join(url_chars)
            if url:
                out.entity("text_link", link.start16, url=url)
            return j + 1
        url_chars.append(text[j])
        j += 1
    raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}")


# --- Markdown (legacy) ------------------------------------------------------------------------------------

_LEGACY = {"*": "bold", "_": "italic", "`": "code"}


def _parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        offset = _byte_offset(text, i)
        error = EntityParseError(f"Can't find end of the entity starting at byte offset {offset}")
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise error
            body = text[i + 3 : end]
            language = ""
            if "\n" in body and body.split("\n", 1)[0].strip() and " " not in body.split("\n", 1)[0]:
                language, body = body.split("\n", 1)
            start16 = out.length16
            out.add(body)
            out.entity("pre", start16, **({"language": language} if language else {}))
            i = end + 3
            continue
        if char == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise error
            start16 = out.length16
            out.add(text[i + 1 : close])
            out.entity("text_link", start16, url=text[close + 2 : end])
            i = end + 1
            continue
        end = text.find(char, i + 1)
        if end < 0:
            raise error
        start16 = out.length16
        out.add(text[i + 1 : end])
        out.entity(_LEGACY[char], start16)
        i = end + 1
    return out.result()
