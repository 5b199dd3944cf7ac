"""Summaries the read endpoints page through instead of aggregating every stored result: each
run's result rows, summed durations and final outcome counts; each test's runs, failures,
summed durations and newest outcome; and an index of the failed results alone. Filled here
from the results already stored, then kept as results are stored.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FAILED = "outcome IN ('failed', 'error')"
#: the row of ``results`` is its test's last attempt in the run (its final outcome)
FINAL = (
    "NOT EXISTS (SELECT 1 FROM results AS later WHERE later.run_id = results.run_id "
    "AND later.test_pk = results.test_pk AND later.attempt > results.attempt)"
)


def upgrade() -> None:
    op.add_column("runs", sa.Column("result_rows", sa.Integer, nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("result_seconds", sa.Float, nullable=False, server_default="0"))
    op.create_index(
        "ix_results_failures",
        "results",
        ["run_id", "test_pk"],
        sqlite_where=sa.text(FAILED),
        postgresql_where=sa.text(FAILED),
    )
    op.create_table(
        "run_outcomes",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("tests", sa.Integer, nullable=False),
    )
    op.create_table(
        "test_summaries",
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column(
            "test_id",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("last_run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("last_outcome", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_test_summaries_order", "test_summaries", ["repository_id", "test_id"], unique=True
    )
    _backfill()


def _backfill() -> None:
    """The summaries of what is stored, as the code keeps them from here on."""
    op.execute(
        "UPDATE runs SET result_rows = (SELECT count(*) FROM results WHERE run_id = runs.id), "
        "result_seconds = coalesce((SELECT sum(duration) FROM results "
        "WHERE run_id = runs.id), 0)"
    )
    op.execute(
        "INSERT INTO run_outcomes (run_id, outcome, tests) "
        f"SELECT run_id, outcome, count(*) FROM results WHERE {FINAL} GROUP BY run_id, outcome"
    )
    op.execute(
        "INSERT INTO test_summaries (test_pk, repository_id, test_id, runs, failures, seconds, "
        "last_run_id, last_outcome) SELECT tests.id, tests.repository_id, tests.test_id, "
        "finals.runs, finals.failures, finals.seconds, finals.last_run_id, '' FROM tests JOIN "
        "(SELECT test_pk, count(*) AS runs, "
        f"sum(CASE WHEN {FAILED} THEN 1 ELSE 0 END) AS failures, "
        "sum(duration) AS seconds, max(run_id) AS last_run_id "
        f"FROM results WHERE {FINAL} GROUP BY test_pk) AS finals ON finals.test_pk = tests.id"
    )
    op.execute(
        "UPDATE test_summaries SET last_outcome = (SELECT results.outcome FROM results "
        "WHERE results.run_id = test_summaries.last_run_id "
        "AND results.test_pk = test_summaries.test_pk ORDER BY results.attempt DESC LIMIT 1)"
    )


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
