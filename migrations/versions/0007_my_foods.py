"""A person's own foods: the `my_foods` table and `users.my_foods_version`.

* `my_foods`: foods a person defined with /myfoods, per 100 g, with a default portion; food key `my_<id>`.
  Deleted ones keep their row (`deleted_at`) so meals logged with them keep their name.
* `users.my_foods_version`: a new random number at every change to them, so a bot process knows when its
  copy is old.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "my_foods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kcal", sa.Double(), nullable=False),
        sa.Column("protein_g", sa.Double(), nullable=False),
        sa.Column("fat_g", sa.Double(), nullable=False),
        sa.Column("carbs_g", sa.Double(), nullable=False),
        sa.Column("portion_g", sa.Double(), nullable=False),
        sa.Column("portion_name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_my_foods_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_my_foods")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_my_foods_user_id"), "my_foods", ["user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("my_foods_version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("my_foods_version")
    op.drop_index(op.f("ix_my_foods_user_id"), table_name="my_foods")
    op.drop_table("my_foods")
