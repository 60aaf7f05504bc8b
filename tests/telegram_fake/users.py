"""Playing a Telegram user: each action stores the user's message and queues the Update a client causes."""

from __future__ import annotations

import re
from typing import Any

from tests.telegram_fake.media import guess_mime_type, new_file, photo_ladder
from tests.telegram_fake.methods import MAX_TEXT, register_photo
from tests.telegram_fake.state import CallbackQuery, Chat, FakeMessage, World

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


class FakeUser:
    """A person in a private chat with the bot (chat id = user id); made by ``FakeTelegram.user``.

    ``in_group(group)`` is the same person writing and pressing in a group chat instead.
    """

    def __init__(self, world: World, chat: Chat, user: dict[str, Any] | None = None) -> None:
        self._world = world
        self._chat = chat
        self._user = user if user is not None else chat.user

    @property
    def id(self) -> int:
        return int(self._user["id"])

    def in_group(self, group: Chat) -> FakeUser:
        """This person as a member of ``group`` (made by ``FakeTelegram.group``)."""
        return FakeUser(self._world, group, self._user)

    @property
    def chat_id(self) -> int:
        return self._chat.id

    @property
    def as_json(self) -> dict[str, Any]:
        """The Bot API User object."""
        return dict(self._user)

    @property
    def blocked(self) -> bool:
        return self._chat.blocked

    def block(self) -> None:
        """The user blocks the bot: sends to this chat now answer 403."""
        self._chat.blocked = True

    def unblock(self) -> None:
        self._chat.blocked = False

    def bot_messages(self) -> list[FakeMessage]:
        """The bot's messages in this chat (current state, deleted ones left out)."""
        return self._world.bot_messages(self.chat_id)

    def _send(self, content: dict[str, Any]) -> dict[str, Any]:
        if self._chat.blocked:
            raise RuntimeError(f"user {self.id} blocked the bot; call unblock() before writing to it")
        self._chat.started = True
        message = self._world.add_message(self._chat, self._user, content, from_bot=False)
        data = message.to_dict()
        self._world.enqueue("message", data)
        return data

    async def send_other(self, kind: str, payload: Any) -> dict[str, Any]:
        """Sends a message of another kind as a client does: ``send_other("sticker", {...})``,
        ``("voice", {...})``, ``("venue", {...})``, ``("dice", {"emoji": "🎲", "value": 3})``…"""
        return self._send({kind: payload})

    async def edit(
        self, message: dict[str, Any], *, text: str | None = None, caption: str | None = None
    ) -> None:
        """Edits one of this person's messages: Telegram sends the new state as an ``edited_message``."""
        stored = self._chat.messages[int(message["message_id"])]
        if text is not None:
            stored.data["text"] = text
        if caption is not None:
            stored.data["caption"] = caption
        stored.data["edit_date"] = int(stored.data["date"]) + 1
        self._world.enqueue("edited_message", stored.to_dict())

    async def send_text(self, text: str) -> dict[str, Any]:
        """Sends a text; ``/commands`` get bot_command entities as Telegram sets them."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise ValueError(f"a Telegram client cannot send a text of {len(text)} characters")
        content: dict[str, Any] = {"text": text}
        entities = [
            {
                "type": "bot_command",
                "offset": len(text[: m.start()].encode("utf-16-le")) // 2,
                "length": len(m.group(0).encode("utf-16-le")) // 2,
            }
            for m in _COMMAND.finditer(text)
        ]
        if entities:
            content["entities"] = entities
        return self._send(content)

    async def send_photo(self, image: bytes, caption: str | None = None) -> dict[str, Any]:
        """Sends a photo; it is stored in Telegram's size ladder, smallest first in ``message["photo"]``."""
        ladder = photo_ladder(image)
        register_photo(self._world, ladder)
        content: dict[str, Any] = {"photo": [file.photo_size() for file in ladder]}
        if caption:
            content["caption"] = caption
        return self._send(content)

    async def send_document(
        self,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        file_size: int | None = None,
        declared_size: int | bool | None = True,
    ) -> dict[str, Any]:
        """Sends a file as a document (bytes unchanged, no thumbnail). ``file_size`` fakes a bigger
        size (say 25 MB for the getFile limit) without holding those bytes. Telegram's Document states
        the size (``declared_size=True``), but may leave it out (None) or state another (an int)."""
        file = new_file(
            "document",
            data,
            size=file_size,
            file_name=file_name,
            mime_type=mime_type or guess_mime_type(file_name),
        )
        self._world.add_file(file)
        document = file.document()
        if declared_size is None:
            del document["file_size"]
        elif not isinstance(declared_size, bool):
            document["file_size"] = declared_size
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._send(content)

    async def send_venue(self, latitude: float, longitude: float, title: str, address: str) -> dict[str, Any]:
        """Shares a place; Telegram sets the message's ``location`` too, as for a shared location."""
        location = {"latitude": latitude, "longitude": longitude}
        venue = {"location": location, "title": title, "address": address}
        return self._send({"venue": venue, "location": location})

    async def send_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        return self._send({"location": {"latitude": latitude, "longitude": longitude}})

    @property
    def reply_keyboard(self) -> list[str]:
        """The texts of the reply keyboard the bot shows under the input field now (empty: none)."""
        markup = self._chat.reply_keyboard or {}
        return [_button_text(button) for row in markup.get("keyboard", []) for button in row]

    async def tap_keyboard(
        self, text: str, *, latitude: float | None = None, longitude: float | None = None
    ) -> dict[str, Any]:
        """Taps a reply-keyboard button as a client does: its text is sent, or, for a location button,
        the location given (the person's device supplies it). A one-time keyboard hides afterwards."""
        markup = self._chat.reply_keyboard or {}
        button = next((b for row in markup.get("keyboard", []) for b in row if _button_text(b) == text), None)
        if button is None:
            raise LookupError(f"no reply keyboard button {text!r}; shown: {self.reply_keyboard}")
        if markup.get("one_time_keyboard"):
            self._chat.reply_keyboard = None
        if isinstance(button, dict) and button.get("request_location"):
            if latitude is None or longitude is None:
                raise ValueError("a location button needs the latitude and longitude the device reports")
            return await self.send_location(latitude, longitude)
        return await self.send_text(text)

    async def press(
        self, message: FakeMessage | dict[str, Any] | int, callback_data: str, *, check: bool = True
    ) -> str:
        """Presses an inline button on a bot message and returns the callback query id.

        With ``check`` (the default) the data must be one of the message's buttons, as with a real client;
        ``check=False`` sends forged data, as anyone can.
        """
        message_id = (
            message.message_id
            if isinstance(message, FakeMessage)
            else int(message["message_id"])
            if isinstance(message, dict)
            else int(message)
        )
        current = self._chat.messages.get(message_id)
        if current is None or not current.from_bot:
            raise ValueError(f"no bot message #{message_id} in chat {self.chat_id}")
        if current.deleted:
            raise ValueError(f"message #{message_id} was deleted; there is nothing to press")
        if check:
            data = [button[1] for row in current.buttons for button in row]
            if callback_data not in data:
                raise ValueError(
                    f"message #{message_id} has no button with data {callback_data!r}: {current.buttons}"
                )
        self._chat.started = True
        query_id = self._world.new_query_id()
        self._world.callback_queries[query_id] = CallbackQuery(
            query_id, self.id, self.chat_id, message_id, callback_data
        )
        self._chat.last_user_seq = self._world.next_seq()
        self._world.enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": self.as_json,
                "message": current.to_dict(),
                "chat_instance": str(-(self.chat_id * 7919 % 10**18)),
                "data": callback_data,
            },
        )
        return query_id


def _button_text(button: Any) -> str:
    """A KeyboardButton's text (Telegram also accepts a bare string)."""
    return button if isinstance(button, str) else str(button.get("text", ""))
