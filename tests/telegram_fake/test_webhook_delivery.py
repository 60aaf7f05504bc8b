"""The fake's webhook delivery against a bare aiohttp "bot": parallel posts up to max_connections, each
chat's updates in order and one at a time, retries that hold only the failing chat, and setWebhook's
max_connections checks. No python-telegram-bot here: the bot's end records exactly what reached it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.telegram_fake import FakeTelegram
from tests.telegram_fake.webhook import SECRET_HEADER, ordering_key

PUBLIC = "https://bot.example.test"
HOOK = f"{PUBLIC}/hook"
SECRET = "s3cret_token-1"


class HookBot:
    """The bot's end of the webhook: records every post it gets, how many were open at once (overall
    and per chat), and answers with `answer(update, attempt)`'s status after `delay` seconds."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.answer: Callable[[dict[str, Any], int], int] = lambda update, attempt: 200
        #: Each post as it was answered: (label, status).
        self.attempts: list[tuple[str, int]] = []
        self.started: list[str] = []
        self.secrets: set[str | None] = set()
        self.active = 0
        self.max_active = 0
        self.active_per_chat: Counter[int | None] = Counter()
        self.max_active_in_a_chat = 0
        self._tries: Counter[int] = Counter()
        self._runner: web.AppRunner | None = None
        self.origin = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def accepted(self) -> list[str]:
        """The labels of the posts answered 2xx, in the order they were answered."""
        return [label for label, status in self.attempts if 200 <= status < 300]

    async def _handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        chat = ordering_key(update)
        self.secrets.add(request.headers.get(SECRET_HEADER))
        self.started.append(label(update))
        self._tries[update["update_id"]] += 1
        self.active += 1
        self.active_per_chat[chat] += 1
        self.max_active = max(self.max_active, self.active)
        self.max_active_in_a_chat = max(self.max_active_in_a_chat, self.active_per_chat[chat])
        try:
            await asyncio.sleep(self.delay)
            status = self.answer(update, self._tries[update["update_id"]])
            self.attempts.append((label(update), status))
            return web.Response(status=status)
        finally:
            self.active -= 1
            self.active_per_chat[chat] -= 1


def label(update: dict[str, Any]) -> str:
    """The text of a message update (an edit is marked), to tell the posts apart in assertions."""
    if "edited_message" in update:
        return "edit:" + str(update["edited_message"].get("text"))
    return str(update.get("message", {}).get("text", update["update_id"]))


@pytest.fixture
async def hook() -> AsyncIterator[tuple[FakeTelegram, HookBot]]:
    bot = HookBot()
    await bot.start()
    try:
        async with FakeTelegram() as tg:
            tg.route(PUBLIC, bot.origin)
            yield tg, bot
    finally:
        await bot.stop()


async def call(tg: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """A Bot API call as any HTTP client makes it: (HTTP status, JSON answer)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.bot_api_url}{tg.token}/{method}", json=params) as reply,
    ):
        body: dict[str, Any] = await reply.json()
        return reply.status, body


async def set_hook(tg: FakeTelegram, **params: Any) -> None:
    status, body = await call(tg, "setWebhook", url=HOOK, secret_token=SECRET, **params)
    assert (status, body) == (200, {"ok": True, "result": True})


async def webhook_info(tg: FakeTelegram) -> dict[str, Any]:
    status, body = await call(tg, "getWebhookInfo")
    assert status == 200
    info: dict[str, Any] = body["result"]
    return info


async def test_posts_go_out_in_parallel_up_to_max_connections(hook: tuple[FakeTelegram, HookBot]) -> None:
    tg, bot = hook
    bot.delay = 0.2
    for n in range(16):
        await tg.user(2000 + n, f"P{n}").send_text(f"hi {n}")

    began = time.monotonic()
    await set_hook(tg, max_connections=8)
    await tg.wait_for(lambda: len(bot.accepted()) == 16, timeout=10)
    took = time.monotonic() - began

    assert took < 1.2, f"16 posts of 0.2 s over 8 connections took {took:.2f} s (one at a time: 3.2 s)"
    assert tg.webhook_sender.max_in_flight == 8
    assert bot.max_active == 8, "never more than max_connections posts open at the bot"
    assert sorted(bot.accepted()) == sorted(f"hi {n}" for n in range(16))
    assert bot.secrets == {SECRET}
    assert [status for _id, status in tg.webhook_deliveries] == [200] * 16
    assert (await webhook_info(tg))["pending_update_count"] == 0


async def test_one_chat_gets_its_updates_in_order_and_one_at_a_time(
    hook: tuple[FakeTelegram, HookBot],
) -> None:
    tg, bot = hook
    bot.delay = 0.05
    ann = tg.user(1001, "Ann")
    first = await ann.send_text("1")
    for text in ("2", "3", "4"):
        await ann.send_text(text)
    await ann.edit(first, text="1b")  # an edited_message is the same chat's too
    other = tg.user(1002, "Ben")
    await other.send_text("ben")

    await set_hook(tg, max_connections=40)
    await tg.wait_for(lambda: len(bot.accepted()) == 6, timeout=10)

    anns = [text for text in bot.accepted() if text != "ben"]
    assert anns == ["1", "2", "3", "4", "edit:1b"]
    assert bot.max_active_in_a_chat == 1, "a chat's next update waits for the answer to the previous one"
    assert bot.max_active == 2, "another chat is posted alongside"
    assert bot.started.index("ben") < bot.started.index("2"), "Ben did not wait behind Ann's queue"


async def test_a_failed_update_holds_back_only_its_own_chat_until_it_is_delivered(
    hook: tuple[FakeTelegram, HookBot],
) -> None:
    tg, bot = hook
    bot.delay = 0.05
    bot.answer = lambda update, attempt: 500 if label(update) == "a1" and attempt <= 2 else 200
    ann, ben = tg.user(1001, "Ann"), tg.user(1002, "Ben")
    for text in ("a1", "b1", "a2", "b2", "a3"):
        await (ann if text.startswith("a") else ben).send_text(text)
    a1_id = tg.world.updates[0]["update_id"]

    await set_hook(tg)
    await tg.wait_for(lambda: len(bot.accepted()) == 5, timeout=10)

    anns = [(text, status) for text, status in bot.attempts if text.startswith("a")]
    assert anns == [("a1", 500), ("a1", 500), ("a1", 200), ("a2", 200), ("a3", 200)]
    accepted = bot.accepted()
    assert accepted.index("b2") < accepted.index("a1"), "Ben's updates went on during Ann's retries"
    assert [status for update_id, status in tg.webhook_deliveries if update_id == a1_id] == [500, 500, 200]
    info = await webhook_info(tg)
    assert info["pending_update_count"] == 0
    assert info["last_error_message"] == "Wrong response from the webhook: 500"
    assert isinstance(info["last_error_date"], int) and info["last_error_date"] > 0


async def test_a_post_that_outlasts_the_timeout_is_a_failure_and_is_retried(
    hook: tuple[FakeTelegram, HookBot],
) -> None:
    tg, bot = hook
    tg.webhook_sender.timeout_s = 0.2
    bot.delay = 0.5
    await tg.user(1001, "Ann").send_text("slow")
    await set_hook(tg)
    await tg.wait_for(lambda: tg.webhook_deliveries, timeout=5)
    bot.delay = 0.0

    await tg.wait_for(lambda: bot.accepted() == ["slow"], timeout=5)
    update_id = tg.webhook_deliveries[0][0]
    assert tg.webhook_deliveries[0] == (update_id, None)
    assert tg.webhook_deliveries[-1] == (update_id, 200)
    info = await webhook_info(tg)
    assert info["last_error_message"].startswith("Connection failed")
    assert info["pending_update_count"] == 0


async def test_deleting_and_setting_the_webhook_during_a_post_does_not_break_delivery(
    hook: tuple[FakeTelegram, HookBot],
) -> None:
    tg, bot = hook
    bot.delay = 0.3
    ann = tg.user(1001, "Ann")
    await ann.send_text("during")
    await set_hook(tg)
    await tg.wait_for(lambda: bot.started == ["during"], timeout=5)

    status, _ = await call(tg, "deleteWebhook")
    assert status == 200
    await tg.wait_for(lambda: bot.accepted() == ["during"], timeout=5)
    assert (await webhook_info(tg))["pending_update_count"] == 0, "a 2xx after the change still counts"

    bot.delay = 0.0
    await set_hook(tg, max_connections=3)
    await ann.send_text("after")
    await tg.wait_for(lambda: bot.accepted() == ["during", "after"], timeout=5)


@pytest.mark.parametrize("value", [0, 101, -1, "many"])
async def test_set_webhook_refuses_max_connections_outside_1_to_100(
    hook: tuple[FakeTelegram, HookBot], value: object
) -> None:
    tg, _bot = hook
    status, body = await call(tg, "setWebhook", url=HOOK, max_connections=value)
    assert status == 400
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: bad webhook: max_connections")
    assert (await webhook_info(tg))["url"] == "", "a refused setWebhook sets nothing"


async def test_get_webhook_info_reports_max_connections(hook: tuple[FakeTelegram, HookBot]) -> None:
    tg, _bot = hook
    await set_hook(tg, max_connections=8)
    assert (await webhook_info(tg))["max_connections"] == 8
    await set_hook(tg)
    assert (await webhook_info(tg))["max_connections"] == 40, "Telegram's default"
    await set_hook(tg, max_connections="100")
    assert (await webhook_info(tg))["max_connections"] == 100
    await call(tg, "deleteWebhook")
    assert "max_connections" not in await webhook_info(tg)


def test_ordering_key_is_the_chat_else_the_sender() -> None:
    ann = {"id": 1001, "is_bot": False, "first_name": "Ann"}
    group = {"id": -100_500, "type": "group", "title": "Family"}
    message = {"message_id": 1, "date": 0, "chat": group, "from": ann, "text": "x"}
    assert ordering_key({"update_id": 1, "message": message}) == -100_500
    assert ordering_key({"update_id": 2, "edited_message": message}) == -100_500
    pressed = {"id": "q", "from": ann, "message": message, "chat_instance": "1", "data": "d"}
    assert ordering_key({"update_id": 3, "callback_query": pressed}) == -100_500
    inline_pressed = {"id": "q", "from": ann, "inline_message_id": "m", "chat_instance": "1"}
    assert ordering_key({"update_id": 4, "callback_query": inline_pressed}) == 1001
    member = {"chat": group, "from": ann, "date": 0, "old_chat_member": {}, "new_chat_member": {}}
    assert ordering_key({"update_id": 5, "my_chat_member": member}) == -100_500
    assert ordering_key({"update_id": 6, "inline_query": {"id": "i", "from": ann, "query": ""}}) == 1001
    assert ordering_key({"update_id": 7, "poll_answer": {"poll_id": "p", "user": ann}}) == 1001
    assert ordering_key({"update_id": 8, "poll": {"id": "p", "question": "?", "options": []}}) is None
