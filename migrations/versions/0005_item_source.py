"""The message that added a food to an open meal: `meal_items.source_message_id`.

A food typed while a meal is open joins that meal; the message id on the item lets a retried message
find the food it added instead of adding it again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meal_items", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("source_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meal_items", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("source_message_id")
