"""The external servers some tests need (PostgreSQL, Redis), found through the environment.

`TEST_POSTGRES_URL` / `TEST_REDIS_URL` name them. When one is unset the test is skipped with the
reason, unless `REQUIRE_SERVICES=1` (CI sets it), where a missing server is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def _required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in ("1", "true", "yes", "on")


def service_url(variable: str, what: str) -> str:
    """The URL in `variable`, or skip (fail under REQUIRE_SERVICES=1) naming what is missing."""
    url = os.environ.get(variable, "").strip()
    if url:
        return url
    reason = f"{what} tests need {variable} (e.g. set it to a server on 127.0.0.1)"
    if _required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {variable} is not set: {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_url() -> str:
    """An async SQLAlchemy URL of a PostgreSQL server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test."""
    return service_url("TEST_POSTGRES_URL", "PostgreSQL")


def redis_url() -> str:
    """A Redis URL, e.g. redis://127.0.0.1:6379/15."""
    return service_url("TEST_REDIS_URL", "Redis")


@contextmanager
def scratch_postgres_database(url: str, prefix: str = "foodbot_test") -> Iterator[str]:
    """A new, empty database on the server `url` points at; yields its URL and drops it afterwards.

    Gives each test module its own schema to migrate, so runs in parallel or after a crash never see
    each other's tables. Sync on purpose: use it from sync (e.g. module-scoped) fixtures.
    """
    server = make_url(url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
