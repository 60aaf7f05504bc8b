"""Bring a database's schema up to date with the packaged Alembic migrations.

Used before the bot's event loop starts and by `foodbot migrate`. The Alembic Config is built in code
(no alembic.ini): its scripts are the installed `migrations` package, its URL the one given.

The migrations run on the async engine inside their own event loop (`asyncio.run` in env.py). These
functions are plain sync calls; when one is called while an event loop is running in this thread, the
migration runs in a worker thread and the call blocks until it is done (blocking that loop meanwhile,
which is fine at startup or in a test, but do not call them from a busy bot's handlers).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def migrations_dir() -> Path:
    """The folder holding env.py, script.py.mako and versions/."""
    return Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """An Alembic Config for `url` with the packaged migrations, as `alembic` itself would use it."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolates "%": a URL-encoded password must survive it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (the newest by default)."""
    _outside_loop(lambda: command.upgrade(alembic_config(url), revision))


def downgrade_database(url: str, revision: str) -> None:
    """Downgrade the database at `url` to `revision` ("base" drops every table the migrations made)."""
    _outside_loop(lambda: command.downgrade(alembic_config(url), revision))


def _outside_loop(run: Callable[[], None]) -> None:
    """Run `run` here, or in a worker thread if this thread has a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=target, name="foodbot-migrate")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
