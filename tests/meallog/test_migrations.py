"""The packaged Alembic migrations build exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from meallog.db.engine import make_engine
from meallog.db.models import Base
from meallog.migrate import alembic_config, downgrade_database, upgrade_database
from tests.services import postgres_url, scratch_postgres_database

TABLES = {
    "users",
    "meals",
    "meal_items",
    "predictions",
    "corrections",
    "updates",
    "memory_examples",
    "favourites",
    "my_foods",
    "model_bundles",
    "model_bundle_files",
    "retrain_runs",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database: a SQLite file in a folder that does not exist yet, or a new PostgreSQL one."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('migrations') / 'not-yet' / 'foodbot.db'}"
        return
    with scratch_postgres_database(postgres_url(), prefix="foodbot_migrations") as url:
        yield url


def _schema(connection: Connection) -> dict[str, Any]:
    """Tables with their indexes, and Alembic's differences between the database and the models."""
    inspector = inspect(connection)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return {
        "tables": set(inspector.get_table_names()),
        "indexes": {t: {i["name"] for i in inspector.get_indexes(t)} for t in inspector.get_table_names()},
        "diff": compare_metadata(context, Base.metadata),
        "revision": context.get_current_revision(),
    }


async def schema_of(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
    finally:
        await engine.dispose()


def test_there_is_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1


async def test_upgrade_builds_the_models_schema_and_downgrade_drops_it(fresh_url: str) -> None:
    upgrade_database(fresh_url)  # from inside a running loop: runs in a worker thread

    schema = await schema_of(fresh_url)
    assert schema["tables"] == TABLES | {"alembic_version"}
    assert schema["diff"] == []
    assert schema["revision"] == ScriptDirectory.from_config(alembic_config(fresh_url)).get_current_head()
    assert schema["indexes"]["meals"] >= {"ix_meals_user_id_local_date_status", "ix_meals_user_id_status"}

    upgrade_database(fresh_url)  # already at head: nothing to do, no error
    downgrade_database(fresh_url, "base")

    emptied = await schema_of(fresh_url)
    assert emptied["tables"] == {"alembic_version"}
    assert emptied["revision"] is None


def test_upgrade_from_sync_code_and_sqlite_runs_in_wal_mode(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("wal") / "data" / "foodbot.db"

    upgrade_database(f"sqlite+aiosqlite:///{path}")

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= TABLES


async def test_the_models_constraint_names_are_used(fresh_url: str) -> None:
    upgrade_database(fresh_url)
    engine = make_engine(fresh_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(
                lambda sync: {
                    "fks": {fk["name"] for fk in inspect(sync).get_foreign_keys("corrections")},
                    "uniques": {uq["name"] for uq in inspect(sync).get_unique_constraints("predictions")},
                    "checks": {ck["name"] for ck in inspect(sync).get_check_constraints("meals")},
                }
            )
    finally:
        await engine.dispose()
    assert names == {
        "fks": {
            "fk_corrections_user_id_users",
            "fk_corrections_meal_id_meals",
            "fk_corrections_item_id_meal_items",
        },
        "uniques": {"uq_predictions_meal_id"},
        "checks": {"ck_meals_status"},
    }


def test_a_password_with_percent_signs_survives_the_config() -> None:
    url = "postgresql+asyncpg://bot:p%40ss%25word@db.example:5432/foodbot"
    config = alembic_config(url)
    assert config.get_main_option("sqlalchemy.url") == url
    assert make_url(url).password == "p@ss%word"
