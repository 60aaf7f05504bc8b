"""The memory of corrections: what each person taught the bot, as photo embeddings per food.

* `memory_examples`: one row per taught example (person, food, embedding, bundle, source, photo).
* `predictions.embedding`: the photo's embedding, kept with the draft until saving teaches from it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("food_key", sa.String(length=128), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("bundle_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("photo_unique_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('corrected', 'added', 'confirmed', 'taught')", name=op.f("ck_memory_examples_source")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memory_examples_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_examples")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_memory_examples_user_id_bundle_id"), "memory_examples", ["user_id", "bundle_id"])
    op.create_index(op.f("ix_memory_examples_bundle_id_food_key"), "memory_examples", ["bundle_id", "food_key"])
    op.create_index(
        op.f("ix_memory_examples_user_id_photo_unique_id"), "memory_examples", ["user_id", "photo_unique_id"]
    )
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("embedding")
    op.drop_index(op.f("ix_memory_examples_user_id_photo_unique_id"), table_name="memory_examples")
    op.drop_index(op.f("ix_memory_examples_bundle_id_food_key"), table_name="memory_examples")
    op.drop_index(op.f("ix_memory_examples_user_id_bundle_id"), table_name="memory_examples")
    op.drop_table("memory_examples")
