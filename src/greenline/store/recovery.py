"""Culprit searches in the store: each search's range, answer and report, written once and read
back by the revert proposal (which only reverts a confirmed culprit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from greenline.store.reads import as_utc
from greenline.store.schema import culprit_searches, repositories
from greenline.store.writes import to_utc


def insert_culprit_search(
    conn: Connection,
    repo_id: int,
    good: str,
    bad: str,
    culprit: str | None,
    confirmed: bool,
    created_at: datetime,
    report: str,
) -> int:
    result = conn.execute(
        culprit_searches.insert().values(
            repository_id=repo_id,
            good=good,
            bad=bad,
            culprit=culprit,
            confirmed=confirmed,
            created_at=to_utc(created_at),
            report=report,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def culprit_reports(conn: Connection, repository: str, culprit: str) -> list[tuple[bool, str]]:
    """(confirmed, report) of every search that named ``culprit``, newest first."""
    rows = conn.execute(
        select(culprit_searches.c.confirmed, culprit_searches.c.report)
        .join(repositories, culprit_searches.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository, culprit_searches.c.culprit == culprit)
        .order_by(culprit_searches.c.created_at.desc(), culprit_searches.c.id.desc())
    )
    return [(bool(r[0]), str(r[1])) for r in rows]


def culprit_search_of(conn: Connection, repository: str, bad: str) -> tuple[str | None, str] | None:
    """(culprit, report) of the newest search whose bad revision is ``bad``."""
    row = conn.execute(
        select(culprit_searches.c.culprit, culprit_searches.c.report)
        .join(repositories, culprit_searches.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository, culprit_searches.c.bad == bad)
        .order_by(culprit_searches.c.created_at.desc(), culprit_searches.c.id.desc())
        .limit(1)
    ).first()
    return (row[0], str(row[1])) if row else None


def culprit_searches_of(conn: Connection, repository: str) -> list[tuple[str, bool, datetime, str]]:
    """(bad, confirmed, created_at, report) of every culprit search, oldest first."""
    rows = conn.execute(
        select(
            culprit_searches.c.bad,
            culprit_searches.c.confirmed,
            culprit_searches.c.created_at,
            culprit_searches.c.report,
        )
        .join(repositories, culprit_searches.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
        .order_by(culprit_searches.c.created_at, culprit_searches.c.id)
    )
    out = []
    for bad, confirmed, created, report in rows:
        when = as_utc(created)
        assert when is not None  # the column is not nullable
        out.append((str(bad), bool(confirmed), when, str(report)))
    return out
