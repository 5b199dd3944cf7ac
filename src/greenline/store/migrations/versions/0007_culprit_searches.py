"""Culprit searches: what each ``greenline culprit`` concluded (the range, the failing tests, the
answer), so that ``greenline revert`` proposes only a confirmed culprit.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "culprit_searches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("good", sa.Text, nullable=False),
        sa.Column("bad", sa.Text, nullable=False),
        sa.Column("culprit", sa.Text),
        sa.Column("confirmed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_culprit_searches_culprit", "culprit_searches", ["repository_id", "culprit"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
