"""Merge queues: each repository's queue state (entries, runs, what landed), one JSON document
per repository with a version for optimistic updates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merge_queues",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
