"""`GET /ready` on READY_LISTEN: whether this bot process should be sent updates, for a load balancer.

Ready means: the database answers and its schema is at the newest migration this code knows, the
recognition queue's Redis answers (with QUEUE_URL), and the process is not stopping. On SIGTERM the
process first turns not ready (503 "draining"), then PTB stops taking updates and finishes those in
hand; an update it took but could not finish is taken over by another replica from the journal
(`bot.journal`). A plain asyncio server with one route: no framework, and it answers while the bot's
own webhook listener is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_LOGGER = logging.getLogger(__name__)

#: A check: None when it holds, else what is wrong (one line).
Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT_S = 2.0


def head_revision() -> str:
    """The newest migration this code knows (Alembic's head)."""
    from alembic.script import ScriptDirectory

    from meallog.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or ""


def database_check(engine: AsyncEngine, head: str) -> Check:
    """The database answers and is migrated to `head`."""

    async def check() -> str | None:
        async with engine.connect() as connection:
            found = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        return None if found == head else f"database schema at {found}, this code needs {head}"

    return check


def redis_check(url: str) -> Check:
    """The queue's Redis answers a PING."""

    async def check() -> str | None:
        from redis.asyncio import Redis

        redis = Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S)
        try:
            await redis.ping()
        finally:
            await redis.aclose()
        return None

    return check


@dataclass
class Readiness:
    """The checks, the draining flag, and the little HTTP server that reports them."""

    checks: dict[str, Check]
    draining: bool = False
    _server: asyncio.Server | None = field(default=None, repr=False)

    async def report(self) -> tuple[bool, dict[str, str]]:
        """(ready, what each check says: "ok" or the problem)."""
        if self.draining:
            return False, {"process": "draining: stopping after the updates in hand"}
        found: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                problem = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            except Exception as exc:  # unreachable, timed out, refused: not ready, and why
                problem = f"{type(exc).__name__}: {exc}"
            found[name] = problem or "ok"
        return all(value == "ok" for value in found.values()), found

    async def start(self, host: str, port: int) -> int:
        """Serve `GET /ready` on host:port (port 0: any free one); returns the port."""
        self._server = await asyncio.start_server(self._answer, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), CHECK_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            body: dict[str, object]
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD") or parts[1].split("?")[0] != "/ready":
                status, body = "404 Not Found", {"error": "only GET /ready is served here"}
            else:
                ready, found = await self.report()
                status, body = ("200 OK" if ready else "503 Service Unavailable"), {"ready": ready, **found}
            payload = json.dumps(body).encode()
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + (payload if parts[:1] != ["HEAD"] else b""))
            await writer.drain()
        except Exception as exc:  # a client that went away: nothing to answer
            _LOGGER.debug("readiness request not answered: %s", exc)
        finally:
            writer.close()
