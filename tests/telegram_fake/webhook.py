"""Telegram's side of webhook mode: posting pending updates to the URL the bot registered.

Like Telegram, it posts over up to ``max_connections`` parallel connections (setWebhook's, default 40),
with the ``X-Telegram-Bot-Api-Secret-Token`` header when setWebhook gave a secret, and it keeps each
chat's updates in order: a chat's next update is not posted while an earlier one of the same chat is
unanswered or failed, while other chats go on. An update leaves the queue only once the bot answered
2xx; anything else (an error status, a refused connection, a timeout) is retried after a pause and
reported by getWebhookInfo's ``last_error_message``. Telegram only posts to https URLs, while the bot
under test listens on plain http on 127.0.0.1: `route` stands in for the TLS-terminating reverse proxy
a host puts in front of the bot, mapping the public origin to the local one; or to a local https
origin, the host's real proxy (nginx in `bench/cluster.py`), whose certificate is not checked.

Scheduling is event driven: one loop waits on `World.wait_until` for a change, picks what may be
posted now, and starts one task per post; a failed post wakes it again through a timer after the
retry pause. Nothing polls, so a benchmark's load is not inflated by the fake itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from tests.telegram_fake.state import World

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_PAUSE_S = 0.2
DEFAULT_MAX_CONNECTIONS = 40
DEFAULT_TIMEOUT_S = 10.0

#: Where an update's chat is found, per kind; every other kind is looked up by its sender.
_SENDER_KEYS = ("from", "user", "voter_chat", "actor_chat")


def ordering_key(update: dict[str, Any]) -> int | None:
    """The chat whose order `update` must keep: its chat id (a callback query's message's chat), else
    its sender's user id, else None (no ordering constraint). A private chat's id is its user's id, so a
    user's messages and their presses on inline messages share one key, as they do at Telegram."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat")
        if not isinstance(chat, dict):
            message = payload.get("message")
            chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        for sender_key in _SENDER_KEYS:
            sender = payload.get(sender_key)
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return int(sender["id"])
    return None


class WebhookSender:
    """Delivers `world.updates` while a webhook is set; see the module docstring.

    ``timeout_s`` bounds each post (connect, send and answer together); change the attribute at any time,
    the next post uses it.
    """

    def __init__(self, world: World, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._world = world
        self.timeout_s = timeout_s
        self._routes: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._posts: set[asyncio.Task[None]] = set()
        #: update_id of each post in flight, and the ordering keys they hold.
        self._in_flight_ids: set[int] = set()
        self._busy_keys: set[int] = set()
        #: Failed updates in their retry pause: update_id -> the timer that ends the pause.
        self._pausing: dict[int, asyncio.TimerHandle] = {}
        #: Every attempt: (update_id, HTTP status or None when the connection failed or timed out).
        self.deliveries: list[tuple[int, int | None]] = []
        #: The most posts that were in flight at once (for benchmarks and tests).
        self.max_in_flight = 0

    @property
    def in_flight(self) -> int:
        """Posts sent and not yet answered."""
        return len(self._in_flight_ids)

    def route(self, public_origin: str, local_origin: str) -> None:
        """Send what is addressed to `public_origin` (``https://host``) to `local_origin` instead."""
        self._routes[public_origin.rstrip("/")] = local_origin.rstrip("/")

    async def start(self) -> None:
        # Telegram's cap is setWebhook's max_connections (at most 100); the connector must not add its own.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._task = asyncio.create_task(self._run(), name="fake-telegram-webhook")

    async def stop(self) -> None:
        for timer in self._pausing.values():
            timer.cancel()
        tasks = [task for task in (self._task, *self._posts) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def _local(self, url: str) -> str:
        for public, local in self._routes.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    # --- choosing what to post ----------------------------------------------------------------------------

    def _ready(self) -> list[dict[str, Any]] | None:
        """The updates that may be posted now, oldest first, within the free connections; None if none.

        An update waits while an earlier one of its chat is in flight or waiting to be retried: the scan
        goes oldest first and marks each chat it passes as taken, so only a chat's oldest update can go.
        Kinds the webhook did not ask for are dropped on the way, as Telegram does.
        """
        webhook = self._world.webhook
        if not webhook.get("url"):
            return None
        free = int(webhook.get("max_connections", DEFAULT_MAX_CONNECTIONS)) - self.in_flight
        if free <= 0:
            return None
        allowed = webhook.get("allowed_updates")
        taken = set(self._busy_keys)
        ready: list[dict[str, Any]] = []
        unwanted: list[dict[str, Any]] = []
        for update in self._world.updates:
            if allowed and not any(kind in update for kind in allowed):
                unwanted.append(update)
                continue
            key = ordering_key(update)
            if key is not None and key in taken:
                continue
            if key is not None:
                taken.add(key)
            update_id = update["update_id"]
            if update_id in self._in_flight_ids or update_id in self._pausing:
                continue
            ready.append(update)
            if len(ready) == free:
                break
        if unwanted:
            gone = {id(update) for update in unwanted}
            self._world.updates[:] = [u for u in self._world.updates if id(u) not in gone]
        return ready or None

    async def _run(self) -> None:
        while not self._world.closing:
            ready = await self._world.wait_until(self._ready, timeout=1.0)
            for update in ready or ():
                self._launch(update)

    def _launch(self, update: dict[str, Any]) -> None:
        """Marks `update` (and its chat) as in flight and starts posting it to the current webhook."""
        key = ordering_key(update)
        self._in_flight_ids.add(update["update_id"])
        if key is not None:
            self._busy_keys.add(key)
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        task = asyncio.create_task(self._deliver(update, key, self._world.webhook))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    # --- posting ------------------------------------------------------------------------------------------

    async def _deliver(self, update: dict[str, Any], key: int | None, webhook: dict[str, Any]) -> None:
        """One attempt. `webhook` is the registration it was started under: its errors are reported
        there even if the bot has since deleted or replaced the webhook, which cannot disturb the post."""
        update_id = int(update["update_id"])
        try:
            status = await self._post(update, webhook)
            self.deliveries.append((update_id, status))
            if status is not None and 200 <= status < 300:
                self._confirmed(update)
            else:
                self._failed(update_id, status, webhook)
        finally:
            self._in_flight_ids.discard(update_id)
            if key is not None:
                self._busy_keys.discard(key)
            self._world.notify()

    async def _post(self, update: dict[str, Any], webhook: dict[str, Any]) -> int | None:
        """The bot's HTTP status, or None when it could not be reached or did not answer in time."""
        assert self._session is not None
        secret = webhook.get("secret_token")
        headers = {SECRET_HEADER: secret} if secret else {}
        url = self._local(webhook["url"])
        try:
            async with self._session.post(
                url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                # A routed https origin is the host's own TLS proxy (nginx) with a certificate made for
                # the test: TLS is spoken, the certificate is not checked.
                ssl=not (url != webhook["url"] and url.startswith("https://")),
            ) as reply:
                return reply.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            webhook["last_error_message"] = f"Connection failed: {type(exc).__name__}"
            return None

    def _confirmed(self, update: dict[str, Any]) -> None:
        """The bot has it: it leaves the queue (this very object; a redelivered copy stays)."""
        self._world.updates[:] = [u for u in self._world.updates if u is not update]

    def _failed(self, update_id: int, status: int | None, webhook: dict[str, Any]) -> None:
        """Records the error and holds the update (and so its chat) back for the retry pause; a timer
        wakes the scheduler when the pause is over, so nothing has to poll for it."""
        if status is not None:
            webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
        webhook["last_error_date"] = int(time.time())
        loop = asyncio.get_running_loop()
        self._pausing[update_id] = loop.call_later(RETRY_PAUSE_S, self._resume, update_id)

    def _resume(self, update_id: int) -> None:
        """The retry pause of `update_id` is over: it (and its chat) may be posted again."""
        self._pausing.pop(update_id, None)
        self._world.notify()
