"""Flaky scans: what each ``greenline flaky scan`` concluded, so that ``greenline flaky fix``
and ``explain`` can use it without scanning again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flaky_scans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("sha", sa.Text),
        sa.Column("dirty", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trials", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_flaky_scans_repository", "flaky_scans", ["repository_id", "started_at"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
