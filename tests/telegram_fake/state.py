"""What the fake Telegram remembers: users, chats, messages, files, pending updates, and what the bot did.

One ``World`` per ``FakeTelegram``. Every change bumps a sequence number and wakes whoever waits (long polls,
``wait_for``); all of it runs on the test's event loop, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.telegram_fake.media import StoredFile

T = TypeVar("T")


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as it appears in ``FakeTelegram.calls``."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass
class Stats:
    """Counters for benchmarks: requests per method and the error answers served."""

    requests: Counter[str] = field(default_factory=Counter)
    served_429: int = 0
    injected_429: int = 0
    rate_limited_429: int = 0
    served_5xx: int = 0
    served_4xx: int = 0


class FakeMessage:
    """A message in a chat, sent by a user or by the bot; a live view that follows later edits.

    ``data`` is the current Bot API Message JSON. Bot messages also keep the source text as sent
    (``raw_text``, before ``parse_mode`` was applied), every earlier version (``history``) and ``deleted``.
    """

    def __init__(self, data: dict[str, Any], *, from_bot: bool, seq: int) -> None:
        self.data = data
        self.from_bot = from_bot
        self.seq = seq
        self.deleted = False
        self.parse_mode: str | None = None
        self.raw_text: str | None = None
        self.history: list[dict[str, Any]] = []
        self.edit_seqs: list[int] = []

    @property
    def message_id(self) -> int:
        return int(self.data["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.data["chat"]["id"])

    @property
    def text(self) -> str | None:
        """The message text (after parse_mode was applied); None for media messages (see ``caption``)."""
        value = self.data.get("text")
        return None if value is None else str(value)

    @property
    def caption(self) -> str | None:
        value = self.data.get("caption")
        return None if value is None else str(value)

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.data.get("entities") or self.data.get("caption_entities") or [])

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        markup = self.data.get("reply_markup")
        return None if markup is None else dict(markup)

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        """PhotoSize dicts, smallest first."""
        photo = self.data.get("photo")
        return None if photo is None else list(photo)

    @property
    def document(self) -> dict[str, Any] | None:
        document = self.data.get("document")
        return None if document is None else dict(document)

    @property
    def edited(self) -> bool:
        return bool(self.history)

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data)``; callback_data is None for URL buttons. (A reply keyboard
        belongs to the chat, not to a message: see `FakeUser.reply_keyboard`.)"""
        markup = self.data.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or []
        result = []
        for row in rows:
            result.append(
                [
                    (button, None)
                    if isinstance(button, str)
                    else (button["text"], button.get("callback_data"))
                    for button in row
                ]
            )
        return result

    def button(self, text_substring: str) -> str:
        """The callback_data of the first button whose text contains ``text_substring`` (case-insensitive
        if no exact-case match); raises LookupError listing the buttons when there is none."""
        flat = [button for row in self.buttons for button in row]
        match = next((b for b in flat if text_substring in b[0]), None)
        if match is None:
            match = next((b for b in flat if text_substring.lower() in b[0].lower()), None)
        if match is None or match[1] is None:
            raise LookupError(f"no callback button with {text_substring!r} in message {self}: {flat}")
        return match[1]

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the current Bot API JSON."""
        return copy.deepcopy(self.data)

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else "user"
        body = self.text if self.text is not None else self.caption
        if body is None:
            kinds = [k for k in ("photo", "document", "location") if k in self.data]
            body = f"<{', '.join(kinds) or 'message'}>"
        flags = (" edited" if self.edited else "") + (" deleted" if self.deleted else "")
        shown = body if len(body) <= 80 else body[:77] + "..."
        return f"<{who} #{self.message_id} in {self.chat_id}{flags}: {shown!r} buttons={self.buttons}>"


@dataclass
class Chat:
    """A private chat with one user (`user`), or a group (`kind` "group", `title`; `user` empty)."""

    id: int
    user: dict[str, Any]
    started: bool = True
    kind: str = "private"
    title: str = ""
    #: A group the bot was removed from (or left): sends answer 403 like Telegram.
    left: bool = False
    blocked: bool = False
    messages: dict[int, FakeMessage] = field(default_factory=dict)
    last_message_id: int = 0
    last_user_seq: int = 0
    last_seen_seq: int = 0  # the newest bot message next_bot_message already returned
    #: The reply keyboard shown under the input field (a ReplyKeyboardMarkup), or None.
    reply_keyboard: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.kind != "private":
            return {"id": self.id, "type": self.kind, "title": self.title}
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


class World:
    """All state of one fake Telegram, plus the change notification everyone waits on."""

    def __init__(self, bot_user: dict[str, Any]) -> None:
        self.bot_user = bot_user
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[StoredFile]] = {}
        self.updates: list[dict[str, Any]] = []
        #: Calls held by `FakeTelegram.hold`, by method name.
        self.held_calls: list[str] = []
        #: Every update ever queued, in order (for tests that deliver one again).
        self.sent_updates: list[dict[str, Any]] = []
        #: Updates delivered again although their offset was passed (`FakeTelegram.redeliver`).
        self.redelivered: list[dict[str, Any]] = []
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, dict[str, Any], str]] = []
        self.downloads: list[tuple[str, int]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self.stats = Stats()
        self.closing = False
        self._update_ids = itertools.count(100_000_001)
        self._query_ids = itertools.count(4_412_000_000_000_000_001)
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()

    # --- change notification ------------------------------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def notify(self) -> None:
        """Wakes every waiter; called after each change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Returns the first truthy ``check()``, re-checked after each change; None after ``timeout`` s or
        when the server closes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result or self.closing:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return check() or None

    # --- chats and messages -------------------------------------------------------------------------------

    def chat(self, chat_id: Any) -> Chat:
        """The chat, or 400 "chat not found" like Telegram."""
        try:
            key = int(chat_id)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(key)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def add_message(
        self, chat: Chat, sender: dict[str, Any], content: dict[str, Any], *, from_bot: bool
    ) -> FakeMessage:
        chat.last_message_id += 1
        data = {
            "message_id": chat.last_message_id,
            "from": dict(sender),
            "chat": chat.as_json(),
            "date": int(time.time()),
            **content,
        }
        message = FakeMessage(data, from_bot=from_bot, seq=self.next_seq())
        chat.messages[message.message_id] = message
        if not from_bot:
            chat.last_user_seq = message.seq
        self.notify()
        return message

    def bot_messages(self, chat_id: int) -> list[FakeMessage]:
        chat = self.chats.get(int(chat_id))
        if chat is None:
            return []
        return [m for m in chat.messages.values() if m.from_bot and not m.deleted]

    def add_file(self, file: StoredFile) -> StoredFile:
        self.files[file.file_id] = file
        return file

    # --- updates ------------------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        self.sent_updates.append(update)
        self.notify()
        return update

    def new_query_id(self) -> str:
        return str(next(self._query_ids))

    def summary(self, chat_id: int | None = None, last: int = 12) -> str:
        """What the bot did, for timeout messages: its messages in the chat, its last calls and errors."""
        lines = []
        if chat_id is not None:
            messages = self.bot_messages(chat_id)
            lines.append(f"bot messages in chat {chat_id}: " + (", ".join(map(repr, messages)) or "none"))
        calls = [f"{method}({_short(params)})" for method, params in self.calls[-last:]]
        lines.append(f"last {len(calls)} of {len(self.calls)} calls: " + ("; ".join(calls) or "none"))
        if self.errors:
            errors = [f"{method}: {description}" for method, _params, description in self.errors[-last:]]
            lines.append("errors answered: " + "; ".join(errors))
        return "\n".join(lines)


def _short(params: dict[str, Any]) -> str:
    shown = []
    for key, value in params.items():
        text = repr(value)
        shown.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
    return ", ".join(shown)
