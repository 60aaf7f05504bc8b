"""The meal log: users, meals, meal items, predictions and corrections.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("pending", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "meals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("eaten_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("photo_unique_id", sa.String(length=255), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("card_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'saved')", name=op.f("ck_meals_status")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_meals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meals")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_meals_user_id_local_date_status"), "meals", ["user_id", "local_date", "status"])
    op.create_index(op.f("ix_meals_user_id_status"), "meals", ["user_id", "status"])
    op.create_table(
        "meal_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meal_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("food_key", sa.String(length=128), nullable=False),
        sa.Column("grams", sa.Double(), nullable=False),
        sa.Column("kcal", sa.Double(), nullable=False),
        sa.Column("protein_g", sa.Double(), nullable=False),
        sa.Column("fat_g", sa.Double(), nullable=False),
        sa.Column("carbs_g", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("model_key", sa.String(length=128), nullable=True),
        sa.CheckConstraint("source IN ('model', 'changed', 'typed')", name=op.f("ck_meal_items_source")),
        sa.CheckConstraint("grams > 0", name=op.f("ck_meal_items_grams_positive")),
        sa.ForeignKeyConstraint(
            ["meal_id"], ["meals.id"], name=op.f("fk_meal_items_meal_id_meals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_items")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_meal_items_meal_id"), "meal_items", ["meal_id"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meal_id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.String(length=128), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("foods", sa.JSON(), nullable=False),
        sa.Column("no_food", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meal_id"], ["meals.id"], name=op.f("fk_predictions_meal_id_meals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("meal_id", name=op.f("uq_predictions_meal_id")),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("meal_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("photo_file_id", sa.String(length=255), nullable=False),
        sa.Column("photo_unique_id", sa.String(length=255), nullable=True),
        sa.Column("bundle_id", sa.String(length=128), nullable=False),
        sa.Column("model_foods", sa.JSON(), nullable=False),
        sa.Column("model_key", sa.String(length=128), nullable=True),
        sa.Column("final_key", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('changed', 'removed', 'added')", name=op.f("ck_corrections_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_corrections_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["meal_id"], ["meals.id"], name=op.f("fk_corrections_meal_id_meals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["meal_items.id"],
            name=op.f("fk_corrections_item_id_meal_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index(op.f("ix_corrections_user_id"), "corrections", ["user_id"])
    op.create_index(op.f("ix_corrections_meal_id"), "corrections", ["meal_id"])
    op.create_index(op.f("ix_corrections_item_id"), "corrections", ["item_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_corrections_item_id"), table_name="corrections")
    op.drop_index(op.f("ix_corrections_meal_id"), table_name="corrections")
    op.drop_index(op.f("ix_corrections_user_id"), table_name="corrections")
    op.drop_table("corrections")
    op.drop_table("predictions")
    op.drop_index(op.f("ix_meal_items_meal_id"), table_name="meal_items")
    op.drop_table("meal_items")
    op.drop_index(op.f("ix_meals_user_id_status"), table_name="meals")
    op.drop_index(op.f("ix_meals_user_id_local_date_status"), table_name="meals")
    op.drop_table("meals")
    op.drop_table("users")
