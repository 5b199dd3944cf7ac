"""A run that records exactly the coverage an earlier run stored names that run instead of
storing rows of its own (``runs.coverage_of``, see ``greenline.store.coverage_share``). Runs
stored before keep their rows.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("coverage_of", sa.Integer, nullable=True))
    op.create_index("ix_runs_coverage_of", "runs", ["coverage_of"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
