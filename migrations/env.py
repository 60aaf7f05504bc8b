"""Alembic environment for the meal log, on the async engines the bot uses.

There is no alembic.ini: `meallog.migrate` builds the Config in code and sets `sqlalchemy.url`. Online
migrations open their own event loop (`asyncio.run`), so they must be started from sync code.
On SQLite, foreign keys are off while migrating (a batch "move and copy" of a parent table would
otherwise cascade deletes into its children), the whole upgrade is one transaction, and
`PRAGMA foreign_key_check` must come back empty before it commits.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from meallog.db.engine import configure_sqlite, ensure_sqlite_directory, is_sqlite
from meallog.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url on the Alembic Config (meallog.migrate.upgrade_database does)")
    return url


def run_migrations_offline() -> None:
    """Emit SQL for the migrations instead of running them (`--sql`)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=is_sqlite(url),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        # configure_sqlite makes SQLAlchemy emit BEGIN, so SQLite's DDL is transactional too.
        transactional_ddl=True if sqlite else None,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows that break foreign keys: {broken[:5]}")


async def run_async_migrations() -> None:
    url = _url()
    ensure_sqlite_directory(url)
    engine = async_engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    if is_sqlite(url):
        configure_sqlite(engine, foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
