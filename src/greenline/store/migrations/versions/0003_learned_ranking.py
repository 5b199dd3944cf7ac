"""Learning the ranking: each recorded run's affected tests with their ranking features, and the
models learned from them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selection_features",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), primary_key=True),
        sa.Column("likelihood", sa.Float, nullable=False),
        sa.Column("features", sa.Text, nullable=False),
    )
    op.create_table(
        "rankers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("examples", sa.Integer, nullable=False),
        sa.Column("failing", sa.Integer, nullable=False),
        sa.Column("adopted", sa.Boolean, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
    )
    op.create_index("ix_rankers_repository", "rankers", ["repository_id", "created_at"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
