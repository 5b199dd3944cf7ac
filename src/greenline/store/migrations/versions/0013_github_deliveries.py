"""GitHub webhook deliveries: each delivery id received (so a replayed one is processed once),
its event, when it was claimed and processed, and what processing did. The body is kept only
until the delivery is processed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "github_deliveries",
        sa.Column("delivery_id", sa.String(100), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("repository", sa.String(255)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("payload", sa.Text),
    )
    op.create_index(
        "ix_github_deliveries_pending", "github_deliveries", ["processed_at", "received_at"]
    )


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
