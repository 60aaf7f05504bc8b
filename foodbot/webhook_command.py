"""`foodbot webhook set|info|delete`: the webhook's registration at Telegram, done once for a cluster.

Replicas with WEBHOOK_REGISTER=false serve WEBHOOK_URL's path without registering it; the one-shot
migration step runs `foodbot migrate`, then `foodbot webhook set`, which registers exactly what a
registering `foodbot run` would (`bot.webhook.registration`). It does so whatever WEBHOOK_REGISTER says,
since the migration step usually reads the replicas' env file. The secret is never printed.

Exit status: 0 done; 2 a configuration problem (no token, no WEBHOOK_URL, a token Telegram rejects);
1 Telegram could not be reached or refused the call (worth retrying once the cause is fixed).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeAlias

from bot.settings import Settings

if TYPE_CHECKING:  # telegram is imported when a webhook command runs, not by every `foodbot` start
    from telegram import Bot, WebhookInfo

COMMAND = "webhook"
NO_TOKEN = "TELEGRAM_BOT_TOKEN is not set: put the token @BotFather gave you in .env (see .env.example)."
NO_URL = (
    "WEBHOOK_URL is not set, so there is no webhook to register (without it `foodbot run` polls). "
    "Set it to the public https:// URL Telegram should post to, e.g. https://bot.example.com/telegram."
)

Action: TypeAlias = "Callable[[Bot, Settings], Awaitable[list[str]]]"


def add_commands(sub: Any) -> None:
    """`foodbot webhook set|info|delete`."""
    webhook = sub.add_parser(
        COMMAND, help="register the webhook once for all replicas (set), show it (info), remove it (delete)"
    )
    actions = webhook.add_subparsers(dest="webhook_command", required=True)
    actions.add_parser("set", help="register WEBHOOK_URL with Telegram, exactly as `foodbot run` would")
    actions.add_parser("info", help="what Telegram has: the URL, pending updates, the last delivery error")
    actions.add_parser("delete", help="remove the webhook; pending updates are kept")


def run(args: Any, settings: Settings) -> int:
    """Run one `foodbot webhook` action; returns the exit status (see the module docstring)."""
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    if args.webhook_command == "set" and not settings.webhook_url:
        print(NO_URL, file=sys.stderr)
        return 2
    action: Action = {"set": _set, "info": _info, "delete": _delete}[args.webhook_command]
    return asyncio.run(_talk(settings, action))


async def _talk(settings: Settings, action: Action) -> int:
    """Run `action` with a bot for the configured token and Bot API server; Telegram's failures become
    one line for the host instead of a traceback."""
    from telegram import Bot
    from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

    assert settings.telegram_bot_token is not None
    root = settings.telegram_api_base_url.rstrip("/")
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=f"{root}/bot")
    try:
        async with bot:  # asks getMe first, so a wrong token is named as such
            lines = await action(bot, settings)
    except InvalidToken:
        print(
            "Telegram rejected TELEGRAM_BOT_TOKEN. Check the token @BotFather gave you in .env.",
            file=sys.stderr,
        )
        return 2
    except BadRequest as exc:  # before NetworkError, its base class: Telegram answered, and said no
        print(f"Telegram refused: {exc.message}", file=sys.stderr)
        return 1
    except NetworkError as exc:
        print(
            f"Cannot reach the Telegram Bot API at {root} ({exc.message}). Check the network.",
            file=sys.stderr,
        )
        return 1
    except TelegramError as exc:
        print(f"Telegram answered with an error: {exc.message}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


async def _set(bot: Bot, settings: Settings) -> list[str]:
    from bot.webhook import register_webhook

    sent = await register_webhook(bot, settings)
    return [
        f"Webhook set: {sent.url}",
        f"max connections: {sent.max_connections}",
        "Replicas with WEBHOOK_REGISTER=false serve it; every post carries the secret they check.",
    ]


async def _info(bot: Bot, settings: Settings) -> list[str]:
    return describe(await bot.get_webhook_info(), settings)


async def _delete(bot: Bot, settings: Settings) -> list[str]:
    await bot.delete_webhook(drop_pending_updates=False)
    return ["Webhook deleted; pending updates are kept (a `foodbot run` without WEBHOOK_URL polls them)."]


def describe(info: WebhookInfo, settings: Settings) -> list[str]:
    """getWebhookInfo for a person: the URL (or that there is none), what waits, the last error, and
    whether it differs from this machine's WEBHOOK_URL."""
    lines = [f"url: {info.url}" if info.url else "no webhook set (the bot polls)"]
    lines.append(f"pending updates: {info.pending_update_count}")
    if info.url and info.max_connections is not None:
        lines.append(f"max connections: {info.max_connections}")
    if info.last_error_message:
        when = info.last_error_date
        at = f" (at {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)" if when is not None else ""
        lines.append(f"last error: {info.last_error_message}{at}")
    if settings.webhook_url and info.url != settings.webhook_url:
        lines.append(f"WEBHOOK_URL here is {settings.webhook_url}: `foodbot webhook set` registers it.")
    return lines
