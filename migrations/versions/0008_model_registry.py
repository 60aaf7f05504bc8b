"""The model registry: `model_bundles` (with their files in `model_bundle_files`) and `retrain_runs`.

* `model_bundles`: each bundle with its parent, what it saw (counts), its gate report and its state
  (candidate, serving, retired, refused); at most one serves.
* `model_bundle_files`: the bundle's files, so a worker on another machine fetches them from the database.
* `retrain_runs`: the nightly retrain of a day, claimed by exactly one process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_bundles",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("parent_id", sa.String(length=120), nullable=True),
        sa.Column("arch", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('candidate', 'serving', 'retired', 'refused')", name=op.f("ck_model_bundles_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_bundles")),
    )
    op.create_table(
        "model_bundle_files",
        sa.Column("bundle_id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["model_bundles.id"],
            name=op.f("fk_model_bundle_files_bundle_id_model_bundles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bundle_id", "name", name=op.f("pk_model_bundle_files")),
    )
    op.create_table(
        "retrain_runs",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_retrain_runs")),
    )


def downgrade() -> None:
    op.drop_table("retrain_runs")
    op.drop_table("model_bundle_files")
    op.drop_table("model_bundles")
