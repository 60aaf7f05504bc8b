"""A loopback Telegram Bot API server that the real ``telegram.ext.Application`` runs against over HTTP.

Use::

    async with FakeTelegram() as tg:
        app = tg.application_builder().build()   # or set TELEGRAM_API_BASE_URL=tg.base_url
        ann = tg.user(1001, "Ann")
        await ann.send_text("/today")
        reply = await tg.next_bot_message(ann.chat_id)

It answers ``{root}/bot{token}/{method}`` (GET or POST; form, multipart or JSON bodies, with PTB's
JSON-encoded objects in form fields) and serves downloads at ``{root}/file/bot{token}/{file_path}``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import math
import random
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tests.telegram_fake.methods import Poller, registry
from tests.telegram_fake.state import ApiError, Chat, FakeMessage, Stats, UploadedFile, World, bad_request
from tests.telegram_fake.users import FakeUser
from tests.telegram_fake.webhook import WebhookSender

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext._applicationbuilder import InitApplicationBuilder

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# Fields whose string values stay strings; other fields holding JSON objects/arrays, numbers or booleans
# (as PTB sends them in form bodies) are decoded.
TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "parse_mode",
        "file_id",
        "url",
        "inline_message_id",
        "secret_token",
        "action",
        "language_code",
        "photo",
        "document",
        "thumbnail",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "title",
        "question",
        "emoji",
        "address",
        "first_name",
        "last_name",
        "phone_number",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
    }
)
#: Telegram's limit on paid broadcasts (sends with allow_paid_broadcast), per second.
PAID_BROADCAST_PER_SECOND = 1000
RATE_LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)
_INTEGER = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+\.\d+")
MAX_BODY = 64 * 1024 * 1024


@dataclass
class _Failure:
    status: int
    retry_after: int
    description: str | None


class FakeTelegram:
    """The fake Bot API server plus the state it keeps; see the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "foodbot_test_bot",
        bot_first_name: str = "FoodBot",
    ) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self._world = World(
            {
                "id": bot_id,
                "is_bot": True,
                "first_name": bot_first_name,
                "username": bot_username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        self._methods = registry(Poller())
        self._users: dict[int, FakeUser] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._per_chat_limit: float | None = None
        self._overall_limit: float | None = None
        self._recent_overall: deque[float] = deque()
        self._recent_paid: deque[float] = deque()
        self._recent_per_chat: dict[Any, deque[float]] = {}
        self._seen_edits: dict[tuple[int, int], int] = {}
        self._latency = 0.0
        self._held: dict[str, asyncio.Event] = {}
        self._jitter = 0.0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._webhook = WebhookSender(self._world)

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listens on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        await self._webhook.start()
        _LOGGER.debug("fake Telegram listening on %s", self.base_url)

    async def stop(self) -> None:
        """Ends pending long polls (they answer with no updates) and closes the server."""
        self._world.closing = True
        self._world.notify()
        await self._webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def route(self, public_origin: str, local_origin: str) -> None:
        """Deliver webhook posts for ``https://public`` to ``http://127.0.0.1:port`` (the TLS proxy)."""
        self._webhook.route(public_origin, local_origin)

    @property
    def webhook_deliveries(self) -> list[tuple[int, int | None]]:
        """Each webhook post tried: (update_id, the bot's HTTP status, or None if it could not connect)."""
        return self._webhook.deliveries

    @property
    def webhook_sender(self) -> WebhookSender:
        """What posts the webhook updates: its ``max_in_flight`` (the most posts in flight at once, for
        benchmarks) and ``timeout_s`` (how long one post may take before it counts as failed)."""
        return self._webhook

    @property
    def base_url(self) -> str:
        """The root, e.g. ``http://127.0.0.1:PORT`` (what TELEGRAM_API_BASE_URL is set to)."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started; use `async with FakeTelegram() as tg`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bot_api_url(self) -> str:
        """PTB's ``base_url``: the token is appended to it."""
        return f"{self.base_url}/bot"

    @property
    def file_api_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    def application_builder(self) -> InitApplicationBuilder:
        """A PTB ApplicationBuilder with the token and both URLs pointing here."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder().token(self.token).base_url(self.bot_api_url).base_file_url(self.file_api_url)
        )

    def bot(self, token: str | None = None) -> Bot:
        """A plain ``telegram.Bot`` talking to this server (``token`` to try a wrong one)."""
        from telegram import Bot

        return Bot(token or self.token, base_url=self.bot_api_url, base_file_url=self.file_api_url)

    # --- playing users ------------------------------------------------------------------------------------

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Ann",
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
        started: bool = True,
    ) -> FakeUser:
        """The user with this id and its private chat (chat id = user id), made on first use.

        ``started=False`` is a user who never opened the bot: sending to it answers 403 until it writes.
        """
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        chat = Chat(id=user_id, user=user, started=started)
        self._world.chats[user_id] = chat
        fake = FakeUser(self._world, chat)
        self._users[user_id] = fake
        return fake

    def group(self, chat_id: int = -100_500, title: str = "Family") -> Chat:
        """A group chat (negative id) that users can write and press in (``user.in_group(group)``)."""
        chat = self._world.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, user={}, kind="group", title=title)
            self._world.chats[chat_id] = chat
        return chat

    def add_bot_to(self, group: Chat, by: FakeUser) -> dict[str, Any]:
        """``by`` adds the bot to ``group``: Telegram tells the bot with a ``my_chat_member`` update."""
        group.left = False
        bot = {**self._world.bot_user, "is_bot": True}
        return self._world.enqueue(
            "my_chat_member",
            {
                "chat": group.as_json(),
                "from": by.as_json,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": bot},
                "new_chat_member": {"status": "member", "user": bot},
            },
        )

    def last_update(self, kind: str | None = None) -> dict[str, Any]:
        """The newest update queued for the bot (of this kind: "message", "callback_query", …)."""
        return next(u for u in reversed(self._world.sent_updates) if kind is None or kind in u)

    def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again with its update id, as Telegram does when the bot died before
        confirming it (polling) or a webhook post was not answered in time."""
        if self._world.webhook.get("url"):
            self._world.updates.insert(0, copy.deepcopy(update))
        else:
            self._world.redelivered.append(copy.deepcopy(update))
        self._world.notify()

    # --- what the bot did ---------------------------------------------------------------------------------

    @property
    def world(self) -> World:
        """All state, for checks the helpers below do not cover."""
        return self._world

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Bot API call but getUpdates, in order: (canonical method name, decoded params)."""
        return self._world.calls

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of each call to ``method``."""
        return [params for name, params in self._world.calls if name.lower() == method.lower()]

    @property
    def errors(self) -> list[tuple[str, dict[str, Any], str]]:
        """Each error answer served: (method, params, description)."""
        return self._world.errors

    @property
    def callback_answers(self) -> dict[str, dict[str, Any]]:
        """Query id -> {"text", "show_alert", "url", "cache_time"} for each answerCallbackQuery."""
        return self._world.callback_answers

    @property
    def downloads(self) -> list[tuple[str, int]]:
        """(file_id, bytes) for each file download."""
        return self._world.downloads

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        """(chat_id, action) for each sendChatAction."""
        return self._world.chat_actions

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The commands setMyCommands registered for the default scope and all languages."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return list(self._world.commands.get(key, []))

    @property
    def stats(self) -> Stats:
        return self._world.stats

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (through getUpdates' offset)."""
        return list(self._world.updates)

    def messages(self, chat_id: int) -> list[FakeMessage]:
        """Every message in the chat, the user's and the bot's, deleted ones included, oldest first."""
        chat = self._world.chats.get(int(chat_id))
        return list(chat.messages.values()) if chat else []

    def message(self, chat_id: int, message_id: int) -> FakeMessage:
        return self._world.chat(chat_id).messages[message_id]

    def bot_messages(self, chat_id: int) -> list[FakeMessage]:
        """The bot's messages in the chat as they are now (edits applied, deleted ones left out)."""
        return self._world.bot_messages(chat_id)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Waits until ``predicate()`` is truthy (re-checked after every change) and returns its value."""
        result = await self._world.wait_until(lambda: predicate() or None, timeout)
        if not result:
            raise TimeoutError(f"condition not met within {timeout} s\n{self._world.summary()}")
        return result

    async def next_bot_message(self, chat_id: int, timeout: float = 5.0) -> FakeMessage:
        """The bot's next message in the chat: the first one sent after both the user's latest action in
        the chat and the message this method last returned there (so a reply that arrived before the call
        still counts). Raises TimeoutError listing what the bot did send."""
        chat = self._world.chats.get(int(chat_id))
        if chat is None:
            raise KeyError(f"no chat {chat_id}; make the user with tg.user() first")

        def find() -> FakeMessage | None:
            floor = max(chat.last_user_seq, chat.last_seen_seq)
            return next((m for m in chat.messages.values() if m.from_bot and m.seq > floor), None)

        message = await self._world.wait_until(find, timeout)
        if message is None:
            raise TimeoutError(
                f"the bot sent no new message to chat {chat_id} within {timeout} s\n"
                f"{self._world.summary(int(chat_id))}"
            )
        chat.last_seen_seq = message.seq
        return message

    async def wait_for_edit(
        self, message_id: int | FakeMessage, chat_id: int | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """Waits for an edit of the bot message made after the user's latest action in the chat (and after
        the edit this method last returned for it); returns the message as edited."""
        if isinstance(message_id, FakeMessage):
            chat_id = message_id.chat_id if chat_id is None else chat_id
            message_id = message_id.message_id
        if chat_id is None:
            raise ValueError("chat_id is needed with a bare message_id")
        chat = self._world.chat(chat_id)
        key = (chat.id, message_id)
        floor = max(chat.last_user_seq, self._seen_edits.get(key, 0))

        def find() -> FakeMessage | None:
            message = chat.messages.get(message_id)
            if message is not None and message.edit_seqs and message.edit_seqs[-1] > floor:
                return message
            return None

        message = await self._world.wait_until(find, timeout)
        if message is None:
            raise TimeoutError(
                f"bot message #{message_id} in chat {chat.id} was not edited within {timeout} s\n"
                f"{self._world.summary(chat.id)}"
            )
        self._seen_edits[key] = message.edit_seqs[-1]
        return message

    async def wait_for_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Waits until the bot answered the callback query; returns the answer."""
        answer = await self._world.wait_until(lambda: self._world.callback_answers.get(query_id), timeout)
        if answer is None:
            raise TimeoutError(
                f"callback query {query_id} was not answered within {timeout} s\n{self._world.summary()}"
            )
        return answer

    # --- failure injection --------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answers the next ``count`` calls of ``method`` with an error instead of doing them: 429 with
        ``retry_after``, 5xx (502 comes as an HTML page, like Telegram's front end), or any other status."""
        queue = self._failures.setdefault(method.lower(), deque())
        queue.extend(_Failure(status, retry_after, description) for _ in range(count))

    def rate_limit(
        self, per_chat_per_second: float | None = None, overall_per_second: float | None = None
    ) -> None:
        """Enforces Telegram's flood limits on sends and edits with 429s (None switches a limit off)."""
        self._per_chat_limit = per_chat_per_second
        self._overall_limit = overall_per_second
        self._recent_overall.clear()
        self._recent_per_chat.clear()

    def hold(self, method: str) -> None:
        """Calls of ``method`` wait, unanswered, until ``release(method)`` (``held_calls`` lists them):
        to stop a bot in the middle of something. A held call whose caller died meanwhile is dropped."""
        self._held[method.lower()] = asyncio.Event()

    def release(self, method: str) -> None:
        """Let the held calls of ``method`` (and later ones) through."""
        event = self._held.pop(method.lower(), None)
        if event is not None:
            event.set()

    @property
    def held_calls(self) -> list[str]:
        """The methods of the calls that were held, in order."""
        return self._world.held_calls

    def slow_down(self, seconds: float, jitter: float = 0.0) -> None:
        """Answers every Bot API method ``seconds`` late, give or take up to ``jitter`` (uniform): a
        Telegram having a slow moment, for benchmarks. The call takes effect only after the wait, as if
        it had queued on Telegram's side. Downloads are not slowed. ``slow_down(0)`` switches it off."""
        if seconds < 0 or jitter < 0 or jitter > seconds:
            raise ValueError("need 0 <= jitter <= seconds")
        self._latency = seconds
        self._jitter = jitter

    def _injected(self, method: str) -> web.Response | None:
        queue = self._failures.get(method.lower())
        if not queue:
            return None
        failure = queue.popleft()
        stats = self._world.stats
        if failure.status == 429:
            stats.injected_429 += 1
            return self._error_response(
                method,
                {},
                ApiError(
                    429,
                    failure.description or f"Too Many Requests: retry after {failure.retry_after}",
                    {"retry_after": failure.retry_after},
                ),
            )
        if failure.status == 502 and failure.description is None:
            stats.served_5xx += 1
            self._world.errors.append((method, {}, "502 Bad Gateway"))
            page = (
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
            )
            return web.Response(status=502, text=page, content_type="text/html")
        default = "Internal Server Error" if failure.status >= 500 else f"Error {failure.status} (injected)"
        return self._error_response(method, {}, ApiError(failure.status, failure.description or default))

    def _rate_limited(self, method: str, params: dict[str, Any], now: float) -> ApiError | None:
        if method not in RATE_LIMITED_METHODS:
            return None
        windows: list[tuple[deque[float], float]] = []
        paid = params.get("allow_paid_broadcast") in (True, "true", "True")
        if self._overall_limit is not None:
            # A paid broadcast is counted apart, against Telegram's 1,000 a second for them.
            if paid:
                windows.append((self._recent_paid, PAID_BROADCAST_PER_SECOND))
            else:
                windows.append((self._recent_overall, self._overall_limit))
        if self._per_chat_limit is not None:
            windows.append(
                (self._recent_per_chat.setdefault(params.get("chat_id"), deque()), self._per_chat_limit)
            )
        for window, limit in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(window[0] + 1.0 - now))
                self._world.stats.rate_limited_429 += 1
                return ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for window, _limit in windows:
            window.append(now)
        return None

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _error_response(self, method: str, params: dict[str, Any], error: ApiError) -> web.Response:
        stats = self._world.stats
        if error.status == 429:
            stats.served_429 += 1
        elif error.status >= 500:
            stats.served_5xx += 1
        else:
            stats.served_4xx += 1
        self._world.errors.append((method, params, error.description))
        return web.json_response(error.body(), status=error.status)

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        self._world.stats.requests[name] += 1
        try:
            params, uploads = await _read_params(request)
        except ApiError as error:
            return self._error_response(name, {}, error)
        if self._latency:
            await asyncio.sleep(self._latency + random.uniform(-self._jitter, self._jitter))
        held = self._held.get(name.lower())
        if held is not None:
            self._world.held_calls.append(name)
            self._world.notify()
            await held.wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the caller is gone: the request never took effect
        if name != "getUpdates":
            self._world.calls.append((name, params))
        if entry is None:
            return self._error_response(name, params, ApiError(404, "Not Found: method not found"))
        injected = self._injected(name)
        if injected is not None:
            return injected
        limited = self._rate_limited(name, params, _now())
        if limited is not None:
            return self._error_response(name, params, limited)
        try:
            result = entry[1](self._world, params, uploads)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return self._error_response(name, params, error)
        return web.json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        file = self._world.files_by_path.get(request.match_info["path"])
        if file is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        self._world.downloads.append((file.file_id, len(file.data)))
        self._world.notify()
        return web.Response(body=file.data, content_type="application/octet-stream")


def _now() -> float:
    return asyncio.get_running_loop().time()


def _decode(name: str, value: Any) -> Any:
    """Turns a form field as PTB sends it (JSON objects as text, numbers as text) into its value."""
    if not isinstance(value, str) or name in TEXT_FIELDS:
        return value
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if _INTEGER.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if value in ("true", "false"):
        return value == "true"
    return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Query string plus body (urlencoded, multipart or JSON), decoded; file parts also by part name."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, UploadedFile] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad_request("JSON request body must be an object")
            raw.update(body)
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    upload = UploadedFile(value.filename, value.content_type, value.file.read())
                    uploads[key] = upload
                    raw[key] = upload
                else:
                    raw[key] = value
    return {key: _decode(key, value) for key, value in raw.items()}, uploads
