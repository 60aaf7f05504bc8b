"""Logging a meal again: the `favourites` table, and the item source "again".

* `favourites`: the meals a person starred, as copies (name, foods, grams, numbers), one per set of
  foods (`signature`), so that /again offers them on top even after the meal they came from is gone.
* `meal_items.source` may be "again": a food copied from an earlier meal by /again or "same as
  yesterday". Downgrading turns those back into "typed", the closest source the older schema knows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SOURCES = "source IN ('model', 'changed', 'typed')"
NEW_SOURCES = "source IN ('model', 'changed', 'typed', 'again')"


def _item_sources(condition: str) -> None:
    """Replace the check on `meal_items.source` (SQLite rebuilds the table; its ids stay as they were)."""
    with op.batch_alter_table("meal_items", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_meal_items_source"), type_="check")
        batch.create_check_constraint(op.f("ck_meal_items_source"), sa.text(condition))


def upgrade() -> None:
    op.create_table(
        "favourites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("foods", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favourites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favourites")),
        sa.UniqueConstraint("user_id", "signature", name=op.f("uq_favourites_user_id_signature")),
        sqlite_autoincrement=True,
    )
    _item_sources(NEW_SOURCES)


def downgrade() -> None:
    op.execute("UPDATE meal_items SET source = 'typed' WHERE source = 'again'")
    _item_sources(OLD_SOURCES)
    op.drop_table("favourites")
