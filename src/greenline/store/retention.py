"""Housekeeping: which runs a prune may delete, deleting them with everything stored for them
in one transaction, vacuuming PostgreSQL afterwards, and how much room the store takes.

What a prune never deletes: a run still running (its process is writing), and on every
branch (a run without one counts as its own branch) the newest run a selection can use as its
baseline (complete, with coverage, recorded on a clean tree). Everything stored for a run
(results, coverage, import-time coverage, file reads, ranking examples, upload batches) goes
with it: the tables that point at ``runs.id`` are read from the schema, so a table added
later is pruned too; a nullable reference (a shard plan's baseline) is cleared instead.
Coverage that runs left standing share is handed to one of them first
(``coverage_share.hand_over``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, func, select, text, update
from sqlalchemy.exc import OperationalError

from greenline.model import RunStatus
from greenline.store import coverage_share
from greenline.store.schema import coverage, metadata, repositories, runs
from greenline.store.summaries import rebuild_test_summaries

#: run ids per DELETE (well under SQLite's limit on bound parameters)
CHUNK = 500


def prunable_runs(
    conn: Connection,
    repository: str,
    *,
    keep: int | None = None,
    before: datetime | None = None,
) -> list[int]:
    """The ids of the repository's runs a prune deletes, oldest first: beyond the newest
    ``keep`` and (when given) started before ``before``; never one still running, nor a
    branch's newest baseline run."""
    query = (
        select(
            runs.c.id,
            runs.c.started_at,
            runs.c.status,
            runs.c.branch_id,
            runs.c.has_coverage,
            runs.c.dirty,
        )
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
    )
    protected: set[int] = set()
    branches_with_baseline: set[Any] = set()
    doomed: list[int] = []
    for place, row in enumerate(conn.execute(query)):
        is_baseline = row.status == RunStatus.COMPLETE.value and row.has_coverage and not row.dirty
        if is_baseline and row.branch_id not in branches_with_baseline:
            branches_with_baseline.add(row.branch_id)
            protected.add(row.id)
        if row.id in protected or row.status == RunStatus.RUNNING.value:
            continue
        if keep is not None and place < keep:
            continue
        if before is not None and _aware(row.started_at, before) >= before:
            continue
        doomed.append(row.id)
    return sorted(doomed)


def _aware(value: datetime, like: datetime) -> datetime:
    """A stored time comparable with ``like`` (SQLite hands times back without their zone)."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def referring_columns() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) of the schema that points at ``runs.id``, children first."""
    found = []
    for table in reversed(metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column is runs.c.id:
                found.append((table, fk.parent))
    return found


def count_rows_of(conn: Connection, run_ids: Sequence[int]) -> dict[str, int]:
    """How many rows of each table belong to these runs (what deleting them would delete)."""
    counts: dict[str, int] = {"runs": len(run_ids)}
    kept = set(coverage_share.kept_owners(conn, run_ids))  # their coverage is handed on
    for table, column in referring_columns():
        ids = [r for r in run_ids if r not in kept] if table is coverage else run_ids
        n = sum(
            int(conn.execute(select(func.count()).where(column.in_(chunk))).scalar() or 0)
            for chunk in _chunks(ids)
        )
        if n:
            counts[table.name] = counts.get(table.name, 0) + n
    return counts


def delete_runs(conn: Connection, run_ids: Sequence[int]) -> dict[str, int]:
    """Delete these runs and every row stored for them (in the caller's transaction); how many
    rows went from each table (a cleared reference counts as its table's)."""
    counts: dict[str, int] = {}
    repos = {
        int(r)
        for c in _chunks(run_ids)
        for r in conn.execute(select(runs.c.repository_id).where(runs.c.id.in_(c)).distinct())
        .scalars()
        .all()
    }
    coverage_share.hand_over(conn, run_ids)  # runs sharing a doomed run's coverage keep it
    for table, column in referring_columns():
        for chunk in _chunks(run_ids):
            if column.nullable:
                done = conn.execute(update(table).where(column.in_(chunk)).values({column: None}))
            else:
                done = conn.execute(delete(table).where(column.in_(chunk)))
            if done.rowcount:
                counts[table.name] = counts.get(table.name, 0) + done.rowcount
    removed = sum(
        conn.execute(delete(runs).where(runs.c.id.in_(c))).rowcount for c in _chunks(run_ids)
    )
    for repo_id in sorted(repos):  # the tests' summaries counted the runs that went
        rebuild_test_summaries(conn, repo_id)
    drop_unused_coverage_sets(conn)
    return {"runs": removed, **counts}


def drop_unused_coverage_sets(conn: Connection) -> int:
    """Delete the coverage sets no run's coverage names any more (with their blocks); how
    many went."""
    unused = (
        "SELECT id FROM coverage_sets WHERE NOT EXISTS "
        "(SELECT 1 FROM coverage WHERE coverage.set_id = coverage_sets.id)"
    )
    conn.execute(text(f"DELETE FROM coverage_set_blocks WHERE set_id IN ({unused})"))
    return int(conn.execute(text(f"DELETE FROM coverage_sets WHERE id IN ({unused})")).rowcount)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def vacuum_postgresql(conn: Connection) -> None:
    """Make the room of deleted rows reusable and refresh the planner's statistics, for the
    tables a prune deletes from (``conn`` in autocommit: VACUUM runs in no transaction)."""
    names = sorted({table.name for table, _ in referring_columns()} | {runs.name})
    conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(names)}")


def sqlite_size(file: Path) -> dict[str, int]:
    """The bytes of a SQLite store: the database file, its write-ahead log and shared memory."""
    parts = {"database": file, "wal": file.with_name(file.name + "-wal")}
    parts["shm"] = file.with_name(file.name + "-shm")
    sizes = {name: path.stat().st_size for name, path in parts.items() if path.exists()}
    return {"bytes": sum(sizes.values()), **{f"{name}_bytes": n for name, n in sizes.items()}}


def table_sizes(conn: Connection) -> dict[str, int]:
    """The bytes each of greenline's tables takes, indexes included, largest first (empty where
    the database cannot say: a SQLite built without its dbstat table)."""
    names = sorted(metadata.tables)
    if conn.dialect.name == "postgresql":
        query = text("SELECT pg_total_relation_size(to_regclass(:name))")
        sizes = {name: int(conn.execute(query, {"name": name}).scalar() or 0) for name in names}
    else:
        try:
            rows = conn.exec_driver_sql(
                "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat AS s "
                "LEFT JOIN sqlite_master AS m ON m.name = s.name GROUP BY 1"
            ).all()
        except OperationalError:  # no dbstat in this SQLite: the file's size is all there is
            return {}
        found = {str(name): int(size) for name, size in rows}
        sizes = {name: found.get(name, 0) for name in names}
    return dict(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))


def postgresql_size(conn: Connection) -> dict[str, int]:
    """The bytes of the PostgreSQL database the store is in."""
    size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    return {"bytes": int(size or 0)}
