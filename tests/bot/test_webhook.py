"""Webhook mode as a host runs it: `foodbot run` with WEBHOOK_URL behind a TLS proxy, Telegram posting."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env, start_foodbot_run
from tests.telegram_fake import FakeTelegram

PUBLIC = "https://bot.example.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_answers_what_was_sent_while_down_and_refuses_forged_posts(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    port = _free_port()
    async with FakeTelegram() as tg:
        tg.route(PUBLIC, f"http://127.0.0.1:{port}")
        ann = tg.user(1001, "Ann")
        await ann.send_text("2 eggs")  # before the bot is up: must not be lost
        process = await start_foodbot_run(
            tmp_path,
            data_dir,
            tg,
            tg.token,
            WEBHOOK_URL=f"{PUBLIC}/telegram/hook",
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
        try:
            card = await tg.next_bot_message(ann.chat_id, timeout=120)
            assert card.text is not None and "Egg" in card.text

            (registered,) = tg.calls_to("setWebhook")
            assert registered["url"] == f"{PUBLIC}/telegram/hook"
            assert len(registered["secret_token"]) >= 32, "a random secret when WEBHOOK_SECRET is unset"
            assert tg.stats.requests["getUpdates"] == 0, "no polling in webhook mode"
            assert any(status == 200 for _id, status in tg.webhook_deliveries)

            await ann.send_text("/today")
            today = await tg.next_bot_message(ann.chat_id, timeout=30)
            assert today.text is not None

            sent_before = len(tg.bot_messages(ann.chat_id))
            forged = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/forget"}}
            async with aiohttp.ClientSession() as http:
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                    async with http.post(
                        f"http://127.0.0.1:{port}/telegram/hook", json=forged, headers=headers
                    ) as reply:
                        assert reply.status == 403
            await asyncio.sleep(0.5)
            assert len(tg.bot_messages(ann.chat_id)) == sent_before, "a forged update is not acted on"
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()


async def test_webhook_secret_from_settings_is_the_one_telegram_sends(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    port = _free_port()
    async with FakeTelegram() as tg:
        tg.route(PUBLIC, f"http://127.0.0.1:{port}")
        process = await start_foodbot_run(
            tmp_path,
            data_dir,
            tg,
            tg.token,
            WEBHOOK_URL=f"{PUBLIC}/hook",
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            WEBHOOK_SECRET="kitchen-Secret_42",
        )
        try:
            await tg.wait_for(lambda: tg.calls_to("setWebhook"), timeout=120)
            assert tg.calls_to("setWebhook")[0]["secret_token"] == "kitchen-Secret_42"
            ben = tg.user(1002, "Ben")
            await ben.send_text("/start")
            reply = await tg.next_bot_message(ben.chat_id, timeout=30)
            assert reply.text
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("WEBHOOK_URL", "http://bot.example.com/hook", "https://"),
        ("WEBHOOK_SECRET", "has spaces!", "A-Z, a-z, 0-9"),
        ("WEBHOOK_LISTEN", "8443", "host:port"),
    ],
)
def test_bad_webhook_settings_are_named_before_anything_starts(
    tmp_path: Path, key: str, value: str, says: str
) -> None:
    done = subprocess.run(
        [FOODBOT, "run"],
        cwd=tmp_path,
        env=foodbot_env(tmp_path / "data", TELEGRAM_BOT_TOKEN="1:x", **{key: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"Configuration error in {key}" in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr


def test_webhook_settings_give_the_listener_and_the_path() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url="https://bot.example.com/telegram/hook/",
        webhook_listen="[::1]:9000",
    )
    assert settings.webhook_address == ("::1", 9000)
    assert settings.webhook_path == "telegram/hook"


def test_replicas_without_a_configured_secret_agree_on_one_no_one_else_can_guess() -> None:
    from bot.webhook import webhook_secret

    def replica(token: str, secret: str | None = None) -> Settings:
        values: dict[str, object] = {
            "telegram_bot_token": token,
            "webhook_url": "https://bot.example.com/hook",
        }
        if secret is not None:
            values["webhook_secret"] = secret
        return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]

    first, second = webhook_secret(replica("123:abc")), webhook_secret(replica("123:abc"))
    assert first == second, "every replica sets and checks the same secret"
    assert webhook_secret(replica("123:other")) != first and "abc" not in first
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in first) and 1 <= len(first) <= 256
    assert webhook_secret(replica("123:abc", "mine")) == "mine"
