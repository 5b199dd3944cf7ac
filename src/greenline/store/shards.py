"""Shard plans in the store: written once per key and shard count (the first shard of a CI run
to plan stores it; the others, and a retried shard, read it back)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from greenline.store.schema import repositories, shard_plans
from greenline.store.writes import to_utc


def insert_shard_plan(
    conn: Connection,
    repo_id: int,
    key: str,
    shards: int,
    commit_sha: str | None,
    baseline_run_id: int | None,
    created_at: datetime,
    plan: str,
) -> bool:
    """Store a plan unless one is stored under the key already; True if this one was."""
    values = {
        "repository_id": repo_id,
        "key": key,
        "shards": shards,
        "commit_sha": commit_sha,
        "baseline_run_id": baseline_run_id,
        "created_at": to_utc(created_at),
        "plan": plan,
    }
    try:
        with conn.begin_nested():  # a lost race leaves the rest of the transaction intact
            conn.execute(shard_plans.insert().values(**values))
    except IntegrityError:
        return False
    return True


def read_shard_plan(conn: Connection, repository: str, key: str, shards: int) -> str | None:
    """The plan stored under ``key`` for ``shards`` shards (its JSON document)."""
    row = conn.execute(
        select(shard_plans.c.plan)
        .join(repositories, shard_plans.c.repository_id == repositories.c.id)
        .where(
            repositories.c.name == repository,
            shard_plans.c.key == key,
            shard_plans.c.shards == shards,
        )
    ).first()
    return str(row[0]) if row else None
