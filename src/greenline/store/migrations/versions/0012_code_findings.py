"""Code-quality findings: what a code host's analysis (GitHub Code Quality, code scanning) found,
one row per finding, so a review digest shows the open ones in the files a change touches.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_findings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.Text, nullable=False),
        sa.Column("rule_title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("start_line", sa.Integer),
        sa.Column("end_line", sa.Integer),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repository_id", "provider", "number"),
    )
    op.create_index("ix_code_findings_path", "code_findings", ["repository_id", "path"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
