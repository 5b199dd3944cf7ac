"""What ran while each project module was imported, before a recorded run's first test: the
blocks per importing module (``<collection>`` for code run outside any module's import).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_coverage",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("module_path", sa.Text, primary_key=True),
        sa.Column("block_id", sa.Integer, sa.ForeignKey("source_blocks.id"), primary_key=True),
    )
    op.create_index("ix_import_coverage_block", "import_coverage", ["block_id"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
