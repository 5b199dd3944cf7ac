"""Uploads in the store: the client key of each uploaded run and the batches of it stored, each
claimed in the transaction that stores it (a unique key, so a resent batch is stored once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Table, func, select, update

from greenline.model import RunStatus
from greenline.store import coverage_share
from greenline.store.schema import runs, upload_batches, uploads
from greenline.store.writes import to_utc


def insert_once(conn: Connection, table: Table, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless its key is taken; True when this call inserted it. On PostgreSQL a
    concurrent insert of the same key waits for the other transaction, then sees its row."""
    statement: Executable
    key = next(iter(table.primary_key.columns))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).values(row).on_conflict_do_nothing().returning(key)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).values(row).on_conflict_do_nothing().returning(key)
    # RETURNING, not rowcount: drivers report no row count for some of these statements
    return conn.execute(statement).first() is not None


def find_upload(conn: Connection, key: str) -> tuple[int, str, int, bool] | None:
    """(run id, run status, repository id, finished) of the upload with this key; an upload
    left incomplete because it fell silent is not finished: its client may still come back."""
    query = (
        select(uploads.c.run_id, runs.c.status, runs.c.repository_id, runs.c.finished_at)
        .join(runs, runs.c.id == uploads.c.run_id)
        .where(uploads.c.key == key)
    )
    row = conn.execute(query).first()
    return (int(row[0]), str(row[1]), int(row[2]), row[3] is not None) if row else None


def claim_upload(conn: Connection, key: str, run_id: int, at: datetime) -> bool:
    """Tie ``key`` to the new run ``run_id``; False when another request took the key first."""
    return insert_once(conn, uploads, {"key": key, "run_id": run_id, "created_at": to_utc(at)})


def claim_batch(conn: Connection, run_id: int, seq: int, results: int, at: datetime) -> bool:
    """Mark batch ``seq`` of the run stored; False when it was stored before."""
    row = {"run_id": run_id, "seq": seq, "results": results, "received_at": to_utc(at)}
    return insert_once(conn, upload_batches, row)


def stored_batches(conn: Connection, run_id: int) -> list[tuple[int, int]]:
    """(sequence number, results) of every batch of the run stored, in order."""
    query = (
        select(upload_batches.c.seq, upload_batches.c.results)
        .where(upload_batches.c.run_id == run_id)
        .order_by(upload_batches.c.seq)
    )
    return [(int(seq), int(count)) for seq, count in conn.execute(query)]


def mark_stale_uploads_incomplete(conn: Connection, cutoff: datetime) -> int:
    """Uploads still ``running`` that heard nothing from their client since ``cutoff`` (a CI
    job that died, or lost the server for good) become ``incomplete``, unfinished (a batch
    or a finish from their client still counts); returns how many."""
    last_batch = (
        select(func.max(upload_batches.c.received_at))
        .where(upload_batches.c.run_id == uploads.c.run_id)
        .scalar_subquery()
    )
    stale = (
        select(uploads.c.run_id)
        .join(runs, runs.c.id == uploads.c.run_id)
        .where(
            runs.c.status == RunStatus.RUNNING.value,
            func.coalesce(last_batch, uploads.c.created_at) < to_utc(cutoff),
        )
    )
    ids = [row[0] for row in conn.execute(stale)]
    if ids:
        coverage_share.settle(conn, ids)
        conn.execute(
            update(runs).where(runs.c.id.in_(ids)).values(status=RunStatus.INCOMPLETE.value)
        )
    return len(ids)


def reopen_upload(conn: Connection, run_id: int) -> None:
    """An upload left incomplete while silent is ``running`` again: its client is back."""
    conn.execute(update(runs).where(runs.c.id == run_id).values(status=RunStatus.RUNNING.value))
