"""Files other than Python source that each test read while recorded (fixtures, templates).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_reads",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
    )
    op.create_index("ix_file_reads_path", "file_reads", ["path"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
