"""The Bot API methods the fake answers, with Telegram's checks and error texts.

Each method takes the decoded request parameters and returns the ``result`` of a successful answer or
raises ``ApiError``. ``getUpdates`` is the only one that waits (long polling).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from typing import Any

from tests.telegram_fake import formatting
from tests.telegram_fake.media import (
    MAX_DOWNLOAD_SIZE,
    StoredFile,
    file_path_for,
    guess_mime_type,
    new_file,
    photo_ladder,
)
from tests.telegram_fake.state import ApiError, Chat, FakeMessage, UploadedFile, World, bad_request
from tests.telegram_fake.webhook import DEFAULT_MAX_CONNECTIONS

#: Telegram's own limits, written here on purpose rather than imported from `meallog.text_fit`: the fake
#: checks the bot against Telegram, so it must not share the bot's idea of the limit.
MAX_TEXT = 4096
MAX_CAPTION = 1024
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_WEBHOOK_CONNECTIONS = 100
MAX_CALLBACK_DATA = 64
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "my_chat_member",
        "chat_member",
        "message_reaction",
    }
)

Params = dict[str, Any]
Method = Callable[[World, Params], Any]


# --- parameter helpers ------------------------------------------------------------------------------------


def _required(params: Params, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    return value


def _int(params: Params, name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise bad_request(f"{name} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _object(params: Params, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


# --- messages ---------------------------------------------------------------------------------------------


def _sendable_chat(world: World, params: Params) -> Chat:
    chat = world.chat(_required(params, "chat_id"))
    if chat.left:
        raise ApiError(403, "Forbidden: bot is not a member of the group chat")
    if chat.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if not chat.started:
        raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
    return chat


def _formatted(params: Params, key: str, limit: int) -> tuple[str | None, list[dict[str, Any]]]:
    """Applies parse_mode (or explicit entities) to the text or caption and checks its length."""
    source = params.get(key)
    if source is None:
        return None, []
    entities_key = "entities" if key == "text" else "caption_entities"
    try:
        text, entities = formatting.parse(str(source), params.get("parse_mode"))
    except formatting.EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    explicit = _object(params, entities_key)
    if explicit:
        entities = list(explicit)
    if len(text) > limit:
        raise bad_request("message is too long" if key == "text" else "message caption is too long")
    return text, entities


def _markup(params: Params) -> dict[str, Any] | None:
    """The reply_markup, checked the way Telegram checks inline keyboards."""
    markup = _object(params, "reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard = markup.get("keyboard")
    if keyboard is not None:
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        for row in keyboard:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not text or not isinstance(text, str):
                    raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    inline = markup.get("inline_keyboard")
    if inline is not None:
        if not isinstance(inline, list) or not all(isinstance(row, list) for row in inline):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in inline:
            for button in row:
                _check_inline_button(button)
    return markup


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not str(button.get("text", "")):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")


def _reply_to(params: Params, chat: Chat) -> dict[str, Any]:
    reply = _object(params, "reply_parameters")
    message_id = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
    if message_id is None:
        return {}
    target = chat.messages.get(int(message_id))
    if target is None or target.deleted:
        allow = reply.get("allow_sending_without_reply") if isinstance(reply, dict) else None
        if allow or _bool(params, "allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": target.to_dict()}


def _send(
    world: World, chat: Chat, params: Params, content: dict[str, Any], raw: str | None
) -> dict[str, Any]:
    markup = _markup(params)
    if markup is not None and "inline_keyboard" in markup:
        content["reply_markup"] = markup  # a Message carries inline keyboards only, as Telegram's do
    elif markup is not None and "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup is not None and markup.get("remove_keyboard"):
        chat.reply_keyboard = None
    content = {**_reply_to(params, chat), **content}
    sender = {key: world.bot_user[key] for key in ("id", "is_bot", "first_name", "username")}
    message = world.add_message(chat, sender, content, from_bot=True)
    message.parse_mode = params.get("parse_mode")
    message.raw_text = raw
    return message.to_dict()


def send_message(world: World, params: Params) -> dict[str, Any]:
    chat = _sendable_chat(world, params)
    text, entities = _formatted(params, "text", MAX_TEXT)
    if not text:
        raise bad_request("message text is empty")
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return _send(world, chat, params, content, params.get("text"))


def _caption(params: Params) -> dict[str, Any]:
    caption, entities = _formatted(params, "caption", MAX_CAPTION)
    content: dict[str, Any] = {}
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
    return content


def _input_file(world: World, params: Params, name: str, uploads: dict[str, UploadedFile]) -> Any:
    """The uploaded part, or an existing file for a file_id; URLs cannot be fetched from the loopback."""
    value = params.get(name)
    if isinstance(value, UploadedFile):
        return value
    if isinstance(value, str) and value.startswith("attach://"):
        attached = uploads.get(value.removeprefix("attach://"))
        if attached is None:
            raise bad_request(f"{name} attachment not found")
        return attached
    if not value:
        raise bad_request(f"there is no {name} in the request")
    existing = world.files.get(str(value))
    if existing is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return existing


def send_photo(world: World, params: Params, uploads: dict[str, UploadedFile]) -> dict[str, Any]:
    chat = _sendable_chat(world, params)
    source = _input_file(world, params, "photo", uploads)
    if isinstance(source, StoredFile):
        ladder = world.photo_sets.get(source.file_id)
        if ladder is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
    else:
        try:
            ladder = photo_ladder(source.data)
        except ValueError:
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        register_photo(world, ladder)
    content = {"photo": [file.photo_size() for file in ladder], **_caption(params)}
    return _send(world, chat, params, content, params.get("caption"))


def register_photo(world: World, ladder: list[StoredFile]) -> None:
    for file in ladder:
        world.add_file(file)
        world.photo_sets[file.file_id] = ladder


def send_document(world: World, params: Params, uploads: dict[str, UploadedFile]) -> dict[str, Any]:
    chat = _sendable_chat(world, params)
    source = _input_file(world, params, "document", uploads)
    if isinstance(source, UploadedFile):
        if not source.data:
            raise bad_request("file must be non-empty")
        mime_type = source.content_type or guess_mime_type(source.filename)
        if mime_type == "application/octet-stream":
            mime_type = guess_mime_type(source.filename)
        source = world.add_file(
            new_file("document", source.data, file_name=source.filename, mime_type=mime_type)
        )
    content = {"document": source.document(), **_caption(params)}
    return _send(world, chat, params, content, params.get("caption"))


# --- edits and deletes ------------------------------------------------------------------------------------


def _message_to_edit(world: World, params: Params) -> FakeMessage:
    if params.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = world.chat(_required(params, "chat_id"))
    message = chat.messages.get(_int(params, "message_id"))
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(world: World, message: FakeMessage, changes: dict[str, Any]) -> dict[str, Any]:
    """Replaces the given keys (None removes one), or answers "message is not modified"."""
    markup = changes.get("reply_markup")
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")  # edits carry inline keyboards only
    current = message.data
    if all(current.get(key) == value for key, value in changes.items()):
        raise bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same "
            "as a current content and reply markup of the message"
        )
    message.history.append(copy.deepcopy(current))
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    current["edit_date"] = int(time.time())
    message.edit_seqs.append(world.next_seq())
    world.notify()
    return message.to_dict()


def edit_message_text(world: World, params: Params) -> dict[str, Any]:
    message = _message_to_edit(world, params)
    if "text" not in message.data:
        raise bad_request("there is no text in the message to edit")
    text, entities = _formatted(params, "text", MAX_TEXT)
    if not text:
        raise bad_request("message text is empty")
    # Like Telegram, an edit without reply_markup removes the inline keyboard.
    result = _apply_edit(
        world, message, {"text": text, "entities": entities or None, "reply_markup": _markup(params)}
    )
    message.parse_mode = params.get("parse_mode")
    message.raw_text = params.get("text")
    return result


def edit_message_caption(world: World, params: Params) -> dict[str, Any]:
    message = _message_to_edit(world, params)
    if "text" in message.data:
        raise bad_request("there is no caption in the message to edit")
    caption, entities = _formatted(params, "caption", MAX_CAPTION)
    result = _apply_edit(
        world,
        message,
        {"caption": caption or None, "caption_entities": entities or None, "reply_markup": _markup(params)},
    )
    message.parse_mode = params.get("parse_mode")
    message.raw_text = params.get("caption")
    return result


def edit_message_reply_markup(world: World, params: Params) -> dict[str, Any]:
    message = _message_to_edit(world, params)
    return _apply_edit(world, message, {"reply_markup": _markup(params)})


def delete_message(world: World, params: Params) -> bool:
    chat = world.chat(_required(params, "chat_id"))
    message = chat.messages.get(_int(params, "message_id"))
    if message is None or message.deleted:
        raise bad_request("message to delete not found")
    message.deleted = True
    world.notify()
    return True


# --- callbacks, actions, files ----------------------------------------------------------------------------


def answer_callback_query(world: World, params: Params) -> bool:
    query_id = str(_required(params, "callback_query_id"))
    query = world.callback_queries.get(query_id)
    if query is None or query.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    query.answered = True
    world.callback_answers[query_id] = {
        "text": params.get("text"),
        "show_alert": _bool(params, "show_alert"),
        "url": params.get("url"),
        "cache_time": params.get("cache_time"),
    }
    world.notify()
    return True


def send_chat_action(world: World, params: Params) -> bool:
    chat = _sendable_chat(world, params)
    action = str(_required(params, "action"))
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    world.chat_actions.append((chat.id, action))
    world.notify()
    return True


def get_file(world: World, params: Params) -> dict[str, Any]:
    file = world.files.get(str(_required(params, "file_id")))
    if file is None:
        raise bad_request("invalid file_id")
    if file.size > MAX_DOWNLOAD_SIZE:
        raise bad_request("file is too big")
    if file.file_path is None:
        file.file_path = file_path_for(file)
        world.files_by_path[file.file_path] = file
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.size,
        "file_path": file.file_path,
    }


# --- bot settings -----------------------------------------------------------------------------------------


def get_me(world: World, params: Params) -> dict[str, Any]:
    return dict(world.bot_user)


def _commands_key(params: Params) -> tuple[str, str]:
    scope = _object(params, "scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def set_my_commands(world: World, params: Params) -> bool:
    commands = _object(params, "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        if not (1 <= len(name) <= 32) or not all(c.islower() or c.isdigit() or c == "_" for c in name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request(
                "command description is empty"
                if not command.get("description")
                else "BOT_COMMAND_DESCRIPTION_INVALID"
            )
    world.commands[_commands_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


def get_my_commands(world: World, params: Params) -> list[dict[str, Any]]:
    return list(world.commands.get(_commands_key(params), []))


def delete_my_commands(world: World, params: Params) -> bool:
    world.commands.pop(_commands_key(params), None)
    return True


def _webhook_max_connections(params: Params) -> int:
    """setWebhook's ``max_connections``: an integer 1..100, 40 when left out. Refused otherwise rather
    than clamped, so a bot that asks for an impossible value hears about it in tests."""
    value = params.get("max_connections")
    if value is None or value == "":
        return DEFAULT_MAX_CONNECTIONS
    if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]+", str(value).strip()):
        raise bad_request("bad webhook: max_connections must be an integer")
    number = int(str(value).strip())
    if not 1 <= number <= MAX_WEBHOOK_CONNECTIONS:
        raise bad_request(f"bad webhook: max_connections must be between 1 and {MAX_WEBHOOK_CONNECTIONS}")
    return number


def set_webhook(world: World, params: Params) -> bool:
    url = str(params.get("url") or "")
    if url and not url.startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = str(params.get("secret_token") or "")
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    max_connections = _webhook_max_connections(params)
    if _bool(params, "drop_pending_updates"):
        world.updates.clear()
    allowed = _object(params, "allowed_updates")
    world.webhook = (
        {
            "url": url,
            "allowed_updates": allowed,
            "secret_token": secret,
            "max_connections": max_connections,
        }
        if url
        else {}
    )
    world.notify()  # the webhook sender starts posting what is pending now, not on its next timeout
    return True


def delete_webhook(world: World, params: Params) -> bool:
    if _bool(params, "drop_pending_updates"):
        world.updates.clear()
    world.webhook = {}
    world.notify()
    return True


def get_webhook_info(world: World, params: Params) -> dict[str, Any]:
    info: dict[str, Any] = {
        "url": world.webhook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
    for key in ("max_connections", "allowed_updates", "last_error_date", "last_error_message"):
        if world.webhook.get(key):
            info[key] = world.webhook[key]
    return info


def ok(world: World, params: Params) -> bool:
    return True


# --- getUpdates -------------------------------------------------------------------------------------------


class Poller:
    """Long polling with Telegram's rules: offset confirms, one poller at a time (a newer one ends the
    older with 409), and 409 while a webhook is set."""

    def __init__(self) -> None:
        self.generation = 0
        self.allowed: set[str] | None = None

    async def get_updates(self, world: World, params: Params) -> list[dict[str, Any]]:
        if world.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = _object(params, "allowed_updates")
        if isinstance(allowed, list):
            self.allowed = {str(kind) for kind in allowed} or None
        if offset > 0:
            world.updates[:] = [u for u in world.updates if u["update_id"] >= offset]
        elif offset < 0:
            world.updates[:] = world.updates[offset:]
        self.generation += 1
        generation = self.generation
        world.notify()  # an older poll still waiting ends with 409

        def deliverable() -> list[dict[str, Any]] | None:
            if generation != self.generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            allowed_kinds = self.allowed or (UPDATE_TYPES - {"chat_member", "message_reaction"})
            found = [u for u in world.updates if any(kind in u for kind in allowed_kinds)]
            again, world.redelivered[:] = world.redelivered[:], []
            return copy.deepcopy(again + found[: limit - len(again)]) or None

        return await world.wait_until(deliverable, timeout) or []


Implementation = Callable[[World, Params, dict[str, UploadedFile]], Any]


def _without_uploads(method: Method) -> Implementation:
    def call(world: World, params: Params, uploads: dict[str, UploadedFile]) -> Any:
        return method(world, params)

    return call


def leave_chat(world: World, params: Params) -> bool:
    """The bot leaves a group; a private chat cannot be left (400, as Telegram)."""
    chat = world.chat(_required(params, "chat_id"))
    if chat.kind == "private":
        raise bad_request("chat member status can't be changed in private chats")
    chat.left = True
    world.notify()
    return True


def registry(poller: Poller) -> dict[str, tuple[str, Implementation]]:
    """Method name (lower case) -> (canonical name, implementation); an implementation may be async."""
    plain: dict[str, Method] = {
        "getMe": get_me,
        "sendMessage": send_message,
        "editMessageText": edit_message_text,
        "editMessageCaption": edit_message_caption,
        "editMessageReplyMarkup": edit_message_reply_markup,
        "deleteMessage": delete_message,
        "answerCallbackQuery": answer_callback_query,
        "sendChatAction": send_chat_action,
        "getFile": get_file,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "leaveChat": leave_chat,
        "close": ok,
        "logOut": ok,
        "setMyDescription": ok,
        "setMyShortDescription": ok,
        "setMyName": ok,
        "setChatMenuButton": ok,
    }
    table = {name.lower(): (name, _without_uploads(method)) for name, method in plain.items()}
    table["sendphoto"] = ("sendPhoto", send_photo)
    table["senddocument"] = ("sendDocument", send_document)
    table["getupdates"] = ("getUpdates", _without_uploads(poller.get_updates))
    return table
