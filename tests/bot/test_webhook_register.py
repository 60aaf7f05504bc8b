"""A cluster's webhook: replicas that serve it without registering it (WEBHOOK_REGISTER=false), and
`foodbot webhook set|info|delete`, which registers it once, from the migration step, as a replica would."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ApplicationBuilder, ExtBot

from bot.app import build_application
from bot.settings import Settings
from bot.telegram_bot import FoodBot
from bot.telegram_io import MessageBudget, RetryingRequest, message_budget
from bot.webhook import ServeOnlyBot, webhook_secret
from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env, start_foodbot_run
from tests.telegram_fake import FakeTelegram

PUBLIC = "https://bot.example.test"
HOOK = f"{PUBLIC}/telegram/hook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _foodbot_webhook(
    tmp_path: Path, tg: FakeTelegram, action: str, **extra: str
) -> tuple[int, str, str]:
    """`foodbot webhook ACTION` as the migration step runs it: (exit status, stdout, stderr). Run without
    blocking the loop, which serves the fake Telegram the command talks to."""
    env = foodbot_env(
        tmp_path / "data",
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_BASE_URL=tg.base_url,
        **extra,
    )
    process = await asyncio.create_subprocess_exec(
        FOODBOT,
        "webhook",
        action,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def _listening(port: int, timeout: float = 120) -> None:
    """Until something accepts connections on 127.0.0.1:`port` (the replica's webhook server is up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def _stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, as an orchestrator stops a replica; its stderr."""
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    return stderr.decode()


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_webhook_set_registers_what_a_replica_would_and_info_shows_it(tmp_path: Path) -> None:
    closed = _free_port()  # nothing listens: the proxy's upstream is not up yet
    async with FakeTelegram() as tg:
        tg.route(PUBLIC, f"http://127.0.0.1:{closed}")
        code, out, err = await _foodbot_webhook(tmp_path, tg, "info")
        assert (code, err) == (0, "")
        assert "no webhook set (the bot polls)" in out

        ann = tg.user(1001, "Ann")
        await ann.send_text("2 eggs")
        code, out, err = await _foodbot_webhook(
            tmp_path, tg, "set", WEBHOOK_URL=HOOK, WEBHOOK_MAX_CONNECTIONS="12"
        )
        assert code == 0, err
        (registered,) = tg.calls_to("setWebhook")
        expected = _settings(telegram_bot_token=tg.token, webhook_url=HOOK)
        assert registered["url"] == HOOK
        assert registered["secret_token"] == webhook_secret(expected)
        assert int(registered["max_connections"]) == 12
        assert registered["allowed_updates"] == list(Update.ALL_TYPES)
        assert not registered.get("drop_pending_updates"), "a photo sent before is still answered"
        assert HOOK in out and "12" in out
        assert webhook_secret(expected) not in out + err, "the secret is never printed"

        await tg.wait_for(lambda: tg.webhook_deliveries, timeout=10)  # Telegram tried, nobody answered
        code, out, err = await _foodbot_webhook(tmp_path, tg, "info", WEBHOOK_URL=HOOK)
        assert (code, err) == (0, "")
        assert f"url: {HOOK}" in out
        assert "pending updates: 1" in out
        assert "last error:" in out
        assert "no webhook set" not in out and "WEBHOOK_URL here" not in out

        code, out, err = await _foodbot_webhook(tmp_path, tg, "delete")
        assert code == 0, err
        assert tg.calls_to("deleteWebhook") == [{"drop_pending_updates": False}]
        code, out, _ = await _foodbot_webhook(tmp_path, tg, "info", WEBHOOK_URL=HOOK)
        assert "no webhook set (the bot polls)" in out and "pending updates: 1" in out
        assert f"WEBHOOK_URL here is {HOOK}" in out, "says the host's URL is not the registered one"


async def test_a_replica_that_does_not_register_answers_once_the_command_registered(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    port = _free_port()
    webhook = {"WEBHOOK_URL": HOOK, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"}
    async with FakeTelegram() as tg:
        tg.route(PUBLIC, f"http://127.0.0.1:{port}")
        process = await start_foodbot_run(
            tmp_path, data_dir, tg, tg.token, WEBHOOK_REGISTER="false", **webhook
        )
        try:
            await _listening(port)
            ann = tg.user(1001, "Ann")
            await ann.send_text("/start")
            await asyncio.sleep(1.0)
            assert tg.bot_messages(ann.chat_id) == [], "no webhook is registered yet: nothing is posted"
            assert tg.calls_to("setWebhook") == [] and tg.calls_to("deleteWebhook") == []

            # The migration step reads the replicas' env file: WEBHOOK_REGISTER=false does not stop it.
            code, _, err = await _foodbot_webhook(tmp_path, tg, "set", WEBHOOK_REGISTER="false", **webhook)
            assert code == 0, err
            reply = await tg.next_bot_message(ann.chat_id, timeout=30)
            assert reply.text, "the update reached the replica through the webhook the command set"
            assert len(tg.calls_to("setWebhook")) == 1, "only the command registered it"
            assert tg.stats.requests["getUpdates"] == 0, "no polling in webhook mode"
        finally:
            stderr = await _stop(process)
    assert process.returncode == 0, stderr
    assert len(tg.calls_to("setWebhook")) == 1 and tg.calls_to("deleteWebhook") == [], "nor when stopping"


async def test_a_registering_replica_registers_the_same_as_the_command(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    port = _free_port()
    webhook = {"WEBHOOK_URL": HOOK, "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_MAX_CONNECTIONS": "7"}
    async with FakeTelegram() as tg:
        tg.route(PUBLIC, f"http://127.0.0.1:{port}")
        code, _, err = await _foodbot_webhook(tmp_path, tg, "set", **webhook)
        assert code == 0, err
        # WEBHOOK_REGISTER unset: the replica registers at start, as before the setting existed.
        process = await start_foodbot_run(tmp_path, data_dir, tg, tg.token, **webhook)
        try:
            ben = tg.user(1002, "Ben")
            await ben.send_text("/start")
            assert (await tg.next_bot_message(ben.chat_id, timeout=120)).text, "the replica is up"
            by_command, by_replica = tg.calls_to("setWebhook")
            assert by_replica == by_command, "one function gives both the parameters"
            assert int(by_replica["max_connections"]) == 7
        finally:
            stderr = await _stop(process)
    assert process.returncode == 0, stderr


@pytest.mark.parametrize(
    ("extra", "token_ok", "status", "says"),
    [
        ({}, True, 2, "WEBHOOK_URL is not set"),
        ({"WEBHOOK_URL": HOOK}, False, 2, "rejected TELEGRAM_BOT_TOKEN"),
    ],
)
async def test_webhook_set_refuses_in_one_line(
    tmp_path: Path, extra: dict[str, str], token_ok: bool, status: int, says: str
) -> None:
    async with FakeTelegram() as tg:
        env = foodbot_env(
            tmp_path / "data",
            TELEGRAM_BOT_TOKEN=tg.token if token_ok else "999:WRONG",
            TELEGRAM_API_BASE_URL=tg.base_url,
            **extra,
        )
        process = await asyncio.create_subprocess_exec(
            FOODBOT, "webhook", "set", cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert tg.calls_to("setWebhook") == []
    assert process.returncode == status
    (line,) = stderr.decode().splitlines()
    assert says in line and "Traceback" not in line


def test_webhook_info_when_telegram_cannot_be_reached_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [FOODBOT, "webhook", "info"],
        cwd=tmp_path,
        env=foodbot_env(
            tmp_path / "data",
            TELEGRAM_BOT_TOKEN="1:x",
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{_free_port()}",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("Cannot reach the Telegram Bot API at http://127.0.0.1:")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({}, FoodBot),
        ({"webhook_register": False}, FoodBot),  # polling never reads WEBHOOK_REGISTER
        ({"webhook_url": HOOK}, FoodBot),
        ({"webhook_url": HOOK, "webhook_register": False}, ServeOnlyBot),
    ],
)
async def test_the_bot_is_the_one_the_builder_would_make(values: dict[str, Any], kind: type) -> None:
    settings = _settings(telegram_bot_token="123:abc", telegram_api_base_url="http://127.0.0.1:1/", **values)
    ours = build_application(settings).bot
    theirs = (
        ApplicationBuilder()
        .token("123:abc")
        .base_url("http://127.0.0.1:1/bot")
        .base_file_url("http://127.0.0.1:1/file/bot")
        .request(RetryingRequest())
        .rate_limiter(message_budget(settings.telegram_rate_limit))
        .build()
        .bot
    )
    assert type(ours) is kind and isinstance(ours, ExtBot) and isinstance(theirs, ExtBot)
    assert (ours.token, ours.base_url, ours.base_file_url) == (
        theirs.token,
        theirs.base_url,
        theirs.base_file_url,
    )
    for mine, builders in zip(ours._request, theirs._request, strict=True):  # getUpdates, everything else
        assert type(mine) is type(builders)
        assert mine._client_kwargs == builders._client_kwargs  # type: ignore[attr-defined]
        assert mine._media_write_timeout == builders._media_write_timeout  # type: ignore[attr-defined]
    assert type(ours.rate_limiter) is type(theirs.rate_limiter) is MessageBudget
    assert (ours.defaults, ours.callback_data_cache, ours.local_mode, ours.private_key) == (
        theirs.defaults,
        theirs.callback_data_cache,
        theirs.local_mode,
        theirs.private_key,
    )


async def test_a_serve_only_bot_answers_setwebhook_without_asking_telegram() -> None:
    async with FakeTelegram() as tg:
        bot: ServeOnlyBot[None] = ServeOnlyBot(tg.token, base_url=tg.bot_api_url)
        assert await bot.set_webhook(HOOK, secret_token="x") is True
        assert await bot.delete_webhook() is True
        assert tg.calls == []
