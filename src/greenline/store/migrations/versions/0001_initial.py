"""Initial schema: repositories, commits, branches, environments, runs, tests, results, coverage.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _repo_fk() -> sa.Column[int]:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "repositories",
        _id(),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("root", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "commits",
        _id(),
        _repo_fk(),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("committed_at", TS),
        sa.Column("subject", sa.Text),
        sa.UniqueConstraint("repository_id", "sha"),
    )
    op.create_table(
        "branches",
        _id(),
        _repo_fk(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.UniqueConstraint("repository_id", "name"),
    )
    op.create_table(
        "environments",
        _id(),
        sa.Column("python", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(255), nullable=False),
        sa.Column("packages_hash", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(400), nullable=False, unique=True),
    )
    op.create_table(
        "runs",
        _id(),
        _repo_fk(),
        sa.Column("commit_id", sa.Integer, sa.ForeignKey("commits.id")),
        sa.Column("branch_id", sa.Integer, sa.ForeignKey("branches.id")),
        sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
        sa.Column("dirty", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("hostname", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("exit_status", sa.Integer),
        sa.Column("args", sa.Text),
        sa.Column("has_coverage", sa.Boolean, nullable=False),
    )
    op.create_index("ix_runs_repository_started", "runs", ["repository_id", "started_at"])
    op.create_table(
        "tests",
        _id(),
        _repo_fk(),
        sa.Column("test_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text),
        sa.UniqueConstraint("repository_id", "test_id"),
    )
    op.create_table(
        "results",
        _id(),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("phase", sa.String(16)),
        sa.Column("message", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.UniqueConstraint("run_id", "test_pk", "attempt"),
    )
    op.create_index("ix_results_test_run", "results", ["test_pk", "run_id"])
    op.create_table(
        "source_blocks",
        _id(),
        _repo_fk(),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.UniqueConstraint("repository_id", "path", "name", "checksum"),
    )
    op.create_table(
        "coverage",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), primary_key=True),
        sa.Column("block_id", sa.Integer, sa.ForeignKey("source_blocks.id"), primary_key=True),
    )
    op.create_index("ix_coverage_block", "coverage", ["block_id"])


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
