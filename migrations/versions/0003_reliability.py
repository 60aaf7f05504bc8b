"""Reliability: the journal of received updates, card versions, the message a draft came from.

* `updates`: every update from Telegram is recorded before it is handled (and, in webhook mode, before
  Telegram gets its 200), so a crash loses nothing and a redelivered update is handled once.
* `meals.version`: bumped by every change of a draft; card buttons carry it, so a double tap or a
  replayed press applies once.
* `meals.source_message_id`: the person's message a draft came from, so a retried or edited message
  finds its draft instead of starting a second one.
* A person's chat is their private chat: chats that earlier versions moved to a group go back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('new', 'done', 'failed')", name=op.f("ck_updates_state")),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_updates")),
    )
    op.create_index(op.f("ix_updates_state_lease_until"), "updates", ["state", "lease_until"])
    op.create_index(op.f("ix_updates_received_at"), "updates", ["received_at"])
    with op.batch_alter_table("meals", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("source_message_id", sa.BigInteger(), nullable=True))
        batch.create_index(batch.f("ix_meals_user_id_source_message_id"), ["user_id", "source_message_id"])
    op.execute("UPDATE users SET chat_id = id WHERE chat_id <> id")


def downgrade() -> None:
    with op.batch_alter_table("meals", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(batch.f("ix_meals_user_id_source_message_id"))
        batch.drop_column("source_message_id")
        batch.drop_column("version")
    op.drop_index(op.f("ix_updates_received_at"), table_name="updates")
    op.drop_index(op.f("ix_updates_state_lease_until"), table_name="updates")
    op.drop_table("updates")
