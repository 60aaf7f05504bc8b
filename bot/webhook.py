"""Webhook mode: the one set of parameters the webhook is registered with, and a bot that serves the
webhook without registering it.

Telegram keeps one webhook per token. PTB's `run_webhook` always calls setWebhook at start, so a cluster
of `foodbot run` replicas behind a load balancer would each register it again on every (re)start. With
WEBHOOK_REGISTER=false a replica serves WEBHOOK_URL's path and checks the secret as before but registers
nothing (`ServeOnlyBot`); the one-shot migration step registers the webhook once with `foodbot webhook
set`. Both take their parameters from `registration`, so what the command registers and what a
registering replica would register cannot drift apart.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Bot, Update

from bot.settings import Settings
from bot.telegram_bot import FoodBot

_LOGGER = logging.getLogger(__name__)

RateArgs = TypeVar("RateArgs")


@dataclass(frozen=True)
class Registration:
    """The arguments of setWebhook, as `foodbot run` and `foodbot webhook set` both pass them."""

    url: str
    secret_token: str
    max_connections: int
    allowed_updates: tuple[str, ...]
    #: Never dropped: a photo sent while no webhook was set is still answered.
    drop_pending_updates: bool = False


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends with every update: WEBHOOK_SECRET, else one derived from the token.

    Without a secret anyone who finds the URL could post updates in any person's name, so there always
    is one. Derived, not random: every replica behind the load balancer computes the same one and checks
    what `foodbot webhook set` (or a registering replica) registered, where a random secret per replica
    would lock the others out (each setWebhook replacing the secret the others check). Nobody without
    the token can derive it.
    """
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    return hashlib.sha256(f"foodbot webhook secret\0{token}".encode()).hexdigest()


def registration(settings: Settings) -> Registration:
    """What the webhook is registered with: WEBHOOK_URL, the secret, every update kind, and
    WEBHOOK_MAX_CONNECTIONS. Raises ValueError without WEBHOOK_URL (then the bot polls)."""
    if not settings.webhook_url:
        raise ValueError("WEBHOOK_URL is not set")
    return Registration(
        url=settings.webhook_url,
        secret_token=webhook_secret(settings),
        max_connections=settings.webhook_max_connections,
        allowed_updates=tuple(Update.ALL_TYPES),
    )


async def register_webhook(bot: Bot, settings: Settings) -> Registration:
    """Register the webhook with Telegram exactly as a registering `foodbot run` does; what was sent."""
    wanted = registration(settings)
    await bot.set_webhook(
        url=wanted.url,
        secret_token=wanted.secret_token,
        max_connections=wanted.max_connections,
        allowed_updates=list(wanted.allowed_updates),
        drop_pending_updates=wanted.drop_pending_updates,
    )
    return wanted


def serves_only(settings: Settings) -> bool:
    """Whether `foodbot run` serves a webhook that someone else registers: webhook mode with
    WEBHOOK_REGISTER=false. Polling never reads WEBHOOK_REGISTER."""
    return bool(settings.webhook_url) and not settings.webhook_register


class ServeOnlyBot(FoodBot[RateArgs]):
    """The bot of a replica that serves the webhook but leaves its registration to `foodbot webhook set`.

    PTB's Updater calls `set_webhook` whenever it starts a webhook (and `delete_webhook` when it would
    drop pending updates), with no option to skip it; this bot answers both as done without asking
    Telegram, so the replica's start changes nothing at Telegram. Everything else is a plain `FoodBot`.
    """

    async def set_webhook(self, *args: Any, **kwargs: Any) -> bool:
        _LOGGER.info("WEBHOOK_REGISTER=false: not calling setWebhook (`foodbot webhook set` registers it)")
        return True

    async def delete_webhook(self, *args: Any, **kwargs: Any) -> bool:
        _LOGGER.info("WEBHOOK_REGISTER=false: not calling deleteWebhook (`foodbot webhook delete` does)")
        return True
