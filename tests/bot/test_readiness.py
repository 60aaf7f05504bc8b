"""`GET /ready` (READY_LISTEN) of a real bot: ready with the database migrated, 503 and why when it is
not, 503 "draining" once the bot is stopping."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text

from bot.app import READINESS_KEY
from bot.readiness import Readiness
from tests.bot.conftest import StartBot
from tests.telegram_fake import FakeTelegram


async def _get(port: int, path: str = "/ready") -> tuple[int, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_ready_until_the_schema_is_behind_or_the_bot_stops(
    tg: FakeTelegram, start_bot: StartBot, tmp_path: Path
) -> None:
    app = await start_bot(ready_listen="127.0.0.1:0")
    readiness: Readiness = app.bot_data[READINESS_KEY]
    assert readiness._server is not None
    port = int(readiness._server.sockets[0].getsockname()[1])

    assert await _get(port) == (200, {"ready": True, "database": "ok"})
    assert (await _get(port, "/other"))[0] == 404

    engine = app.bot_data["engine"]
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    status, body = await _get(port)
    assert status == 503 and "0001" in str(body["database"])
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0008'"))

    await app.updater.stop()  # SIGTERM, as run_webhook handles it: stop taking updates, then stop
    await app.stop()
    assert app.post_stop is not None
    await app.post_stop(app)
    status, body = await _get(port)
    assert status == 503 and "draining" in str(body["process"])
    await app.shutdown()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)


async def test_an_unreachable_queue_is_not_ready_and_says_so() -> None:
    from bot.readiness import redis_check

    ready, found = await Readiness({"queue": redis_check("redis://127.0.0.1:1/0")}).report()
    assert not ready and found["queue"] != "ok" and "Error" in found["queue"]
