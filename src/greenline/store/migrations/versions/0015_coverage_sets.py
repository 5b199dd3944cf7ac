"""Coverage stored as content-addressed sets: the blocks a test ran are one set, named by the
digest of its sorted block ids and stored once per repository, and each run's coverage is a
row per test naming its set. A suite recorded again with the same coverage adds a row per
test instead of a row per test and block. The coverage stored is moved over here, set by set.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: rows moved per statement
BATCH = 5000


def set_digest(block_ids: list[int]) -> str:
    """The name of a set of blocks: the sha256 of its sorted ids (as the store writes it)."""
    return hashlib.sha256(",".join(map(str, sorted(block_ids))).encode()).hexdigest()


def upgrade() -> None:
    op.create_table(
        "coverage_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("blocks", sa.Integer, nullable=False),
        sa.UniqueConstraint("repository_id", "digest"),
    )
    op.create_table(
        "coverage_set_blocks",
        sa.Column("set_id", sa.Integer, sa.ForeignKey("coverage_sets.id"), primary_key=True),
        sa.Column("block_id", sa.Integer, sa.ForeignKey("source_blocks.id"), primary_key=True),
    )
    op.create_index("ix_coverage_set_blocks_block", "coverage_set_blocks", ["block_id"])
    op.create_table(
        "coverage_by_set",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("test_pk", sa.Integer, sa.ForeignKey("tests.id"), primary_key=True),
        sa.Column("set_id", sa.Integer, sa.ForeignKey("coverage_sets.id"), nullable=False),
    )
    _move_coverage()
    op.drop_index("ix_coverage_block", table_name="coverage")
    op.drop_table("coverage")
    op.rename_table("coverage_by_set", "coverage")
    op.create_index("ix_coverage_set", "coverage", ["set_id", "run_id"])


def _per_test(conn: sa.Connection, run: int) -> Iterator[tuple[int, list[int]]]:
    """(test, block ids) of every test of ``run`` with coverage."""
    rows = conn.execute(
        sa.text(
            "SELECT test_pk, block_id FROM coverage WHERE run_id = :run ORDER BY test_pk, block_id"
        ),
        {"run": run},
    ).all()
    test: int | None = None
    blocks: list[int] = []
    for pk, block in rows:
        if pk != test:
            if test is not None:
                yield test, blocks
            test, blocks = int(pk), []
        blocks.append(int(block))
    if test is not None:
        yield test, blocks


def _move_coverage() -> None:
    """Each run's coverage, one run at a time (memory holds one run's rows and the digests)."""
    conn = op.get_bind()
    runs = conn.execute(
        sa.text(
            "SELECT id, repository_id FROM runs WHERE id IN (SELECT DISTINCT run_id FROM coverage)"
            " ORDER BY id"
        )
    ).all()
    sets: dict[tuple[int, str], int] = {}
    set_rows: list[dict[str, int]] = []
    coverage_rows: list[dict[str, int]] = []
    for run, repo in runs:
        for test, blocks in _per_test(conn, run):
            key = (int(repo), set_digest(blocks))
            if key not in sets:
                sets[key] = len(sets) + 1
                conn.execute(
                    sa.text(
                        "INSERT INTO coverage_sets (id, repository_id, digest, blocks) "
                        "VALUES (:id, :repo, :digest, :blocks)"
                    ),
                    {"id": sets[key], "repo": key[0], "digest": key[1], "blocks": len(blocks)},
                )
                set_rows += [{"set_id": sets[key], "block_id": b} for b in blocks]
            coverage_rows.append({"run_id": run, "test_pk": test, "set_id": sets[key]})
            if len(set_rows) >= BATCH:
                _insert(conn, "coverage_set_blocks", set_rows)
            if len(coverage_rows) >= BATCH:
                _insert(conn, "coverage_by_set", coverage_rows)
    _insert(conn, "coverage_set_blocks", set_rows)
    _insert(conn, "coverage_by_set", coverage_rows)
    if conn.dialect.name == "postgresql" and sets:  # ids given here: the sequence moves past
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('coverage_sets', 'id'), "
                "(SELECT max(id) FROM coverage_sets))"
            )
        )


def _insert(conn: sa.Connection, table: str, rows: list[dict[str, int]]) -> None:
    if rows:
        columns = list(rows[0])
        conn.execute(
            sa.text(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)})"
            ),
            rows,
        )
        rows.clear()


def downgrade() -> None:
    raise NotImplementedError("greenline migrations only move forward")
