"""Telegram's side of webhook mode: posting pending updates to the URL the bot registered.

Like Telegram, it sends one update at a time in order, with the ``X-Telegram-Bot-Api-Secret-Token``
header when setWebhook gave a secret, and an update leaves the queue only once the bot answered 2xx;
anything else (an error status, a refused connection) is retried after a pause and reported by
getWebhookInfo's ``last_error_message``. Telegram only posts to https URLs, while the bot under test
listens on plain http on 127.0.0.1: `route` stands in for the TLS-terminating reverse proxy a host
puts in front of the bot, mapping the public origin to the local one.
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


class WebhookSender:
    """Delivers `world.updates` while a webhook is set; see the module docstring."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._routes: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        #: Every attempt: (update_id, HTTP status or None when the connection failed).
        self.deliveries: list[tuple[int, int | None]] = []

    def route(self, public_origin: str, local_origin: str) -> None:
        """Send what is addressed to `public_origin` (``https://host``) to `local_origin` instead."""
        self._routes[public_origin.rstrip("/")] = local_origin.rstrip("/")

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run(), name="fake-telegram-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def _local(self, url: str) -> str:
        for public, local in self._routes.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    def _next(self) -> dict[str, Any] | None:
        """The oldest update the webhook wants; kinds it did not ask for are dropped, as Telegram does."""
        if not self._world.webhook.get("url"):
            return None
        allowed = self._world.webhook.get("allowed_updates")
        while self._world.updates:
            update = self._world.updates[0]
            if not allowed or any(kind in update for kind in allowed):
                return update
            self._world.updates.pop(0)
        return None

    async def _run(self) -> None:
        assert self._session is not None
        while not self._world.closing:
            update = await self._world.wait_until(self._next, timeout=1.0)
            if update is None:
                continue
            webhook = self._world.webhook
            headers = {SECRET_HEADER: webhook["secret_token"]} if webhook.get("secret_token") else {}
            status: int | None = None
            try:
                async with self._session.post(
                    self._local(webhook["url"]), json=update, headers=headers
                ) as reply:
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                webhook["last_error_message"] = f"Connection failed: {type(exc).__name__}"
            self.deliveries.append((update["update_id"], status))
            if status is not None and 200 <= status < 300:
                self._world.updates[:] = [u for u in self._world.updates if u is not update]
                self._world.notify()
                continue
            if status is not None:
                webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
            webhook["last_error_date"] = int(time.time())
            self._world.notify()
            await asyncio.sleep(RETRY_PAUSE_S)
