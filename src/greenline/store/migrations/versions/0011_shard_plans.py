"""Shard plans: which shard runs which test, stored under the CI run's key (and the shard
count), so every shard of the run, and a retried one, runs exactly the tests it was given.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shard_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("shards", sa.Integer, nullable=False),
        sa.Column("commit_sha", sa.String(64)),
        sa.Column("baseline_run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.UniqueConstraint("repository_id", "key", "shards"),
    )


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
