"""Engines and sessions for the meal log, SQLite or PostgreSQL from one URL.

SQLite gets, on every new connection: foreign keys enforced, write-ahead logging (readers never wait
for a writer) and a busy timeout. SQLAlchemy also takes over BEGIN from the sqlite3 driver, so that a
session can open its transaction with `BEGIN IMMEDIATE` (see `WRITE`): a read-then-write transaction
then waits for the write lock up front instead of failing with "database is locked" when another
connection wrote in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Pass as `session.connection(execution_options=WRITE)` before the first statement of a transaction
# that will write; SQLite then begins it with BEGIN IMMEDIATE. Other databases ignore the option.
WRITE: dict[str, Any] = {"foodbot_sqlite_begin": "IMMEDIATE"}


#: Every PostgreSQL session's bounds on waiting. A statement that waits this long for a row lock gives up
#: (and is tried again: `is_transient`), and a transaction left open and idle this long (its client
#: stuck, or gone without the server noticing) is ended by the server, releasing its locks, so one stuck
#: process cannot hold every other one up. Long statements themselves are not limited (migrations).
POSTGRES_SESSION: dict[str, str] = {"lock_timeout": "10s", "idle_in_transaction_session_timeout": "60s"}
#: SQLSTATEs that may pass: lock_not_available, deadlock_detected, serialization_failure,
#: idle_in_transaction_session_timeout, admin_shutdown, crash_shutdown, cannot_connect_now.
TRANSIENT_SQLSTATES = frozenset({"55P03", "40P01", "40001", "25P03", "57P01", "57P02", "57P03"})


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the folder of a file-based SQLite database, so that a fresh `./data/...` path works."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool = True) -> None:
    """Install the per-connection pragmas and SQLAlchemy-controlled BEGIN on a SQLite engine.

    Migrations pass `foreign_keys=False`: SQLite rebuilds a table to alter it, and dropping the old
    copy with foreign keys on would cascade deletes into the tables that refer to it.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave BEGIN to the "begin" hook below; the pragmas must run outside a transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.fetchall()
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("foodbot_sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url` (`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`).

    Extra keyword arguments go to `create_async_engine`.
    """
    if is_sqlite(url):
        ensure_sqlite_directory(url)
        engine = create_async_engine(url, **kwargs)
        configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if make_url(url).get_driver_name() == "asyncpg":
        connect_args = dict(kwargs.get("connect_args", {}))
        connect_args["server_settings"] = {**POSTGRES_SESSION, **connect_args.get("server_settings", {})}
        kwargs["connect_args"] = connect_args
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (the meal log turns them into views)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_transient(error: BaseException) -> bool:
    """Whether a database error may pass on its own, so that the same work tried again can succeed.

    The connection was lost (its server restarted or failed over, an administrator cut it), or the
    driver's state went with it (asyncpg's "another operation is in progress" on a connection cut in the
    middle of a statement): the pool hands out a fresh connection next time. Or PostgreSQL gave up on
    waiting (`POSTGRES_SESSION`'s lock timeout) or on a transaction (a deadlock, a serialization
    failure). A wrong statement or a broken constraint is not transient: it gives the same answer again.
    """
    if isinstance(error, OperationalError | InterfaceError | InternalError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return error.connection_invalidated or getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
