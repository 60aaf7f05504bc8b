"""Daily summaries (time, on/off, due, claim, last day) and reopening saved meals.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("summary_minute", sa.Integer(), server_default="1260", nullable=False))
        batch.add_column(sa.Column("summaries_on", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("summary_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("summary_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("summary_last_date", sa.Date(), nullable=True))
        batch.create_index(batch.f("ix_users_summary_due_at"), ["summary_due_at"])
    # Adding a foreign key rebuilds the table on SQLite: keep its AUTOINCREMENT (ids never reused).
    with op.batch_alter_table("meals", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("replaces_meal_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_meals_replaces_meal_id_meals"),
            "meals",
            ["replaces_meal_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(batch.f("ix_meals_replaces_meal_id"), ["replaces_meal_id"])


def downgrade() -> None:
    with op.batch_alter_table("meals", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(batch.f("ix_meals_replaces_meal_id"))
        batch.drop_constraint(batch.f("fk_meals_replaces_meal_id_meals"), type_="foreignkey")
        batch.drop_column("replaces_meal_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_index(batch.f("ix_users_summary_due_at"))
        batch.drop_column("summary_last_date")
        batch.drop_column("summary_claimed_at")
        batch.drop_column("summary_due_at")
        batch.drop_column("summaries_on")
        batch.drop_column("summary_minute")
