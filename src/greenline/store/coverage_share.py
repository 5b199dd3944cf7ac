"""Runs that share their coverage: a run that records exactly the coverage an earlier run
stored (the same tests, each with the same set of blocks) stores none of its own, and names
that run instead (``runs.coverage_of``: the run whose coverage rows hold its coverage). A
suite recorded again on unchanged code adds its results and nothing else.

How a run comes to share, batch by batch as it is written:

- its first batch of results with coverage picks the **owner**: the newest complete run of
  the repository with coverage in the same environment (one that shares itself hands on its
  own owner: the rows are always one step away);
- each batch is compared with the owner's rows for the batch's tests (a test the batch gives
  no blocks must have none there either); while all agree, nothing is written;
- the first batch that differs (a test the owner never ran, another set of blocks, a test given
  a second time) ends the sharing: the run gets its own rows, the owner's for every test it
  stored results for before, and this batch's;
- when the run ends (finished, or left incomplete), it shares on only if the owner has
  coverage of no test the run did not run; otherwise it gets its own rows the same way.

So while a run shares, every test it stored results for has the owner's coverage; a reader of
a running run that shares keeps to the tests with results (``coverage_source``). A prune that
deletes an owner hands its rows to the newest finished run that shares them (``hand_over``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, update

from greenline.model import RunStatus
from greenline.store.schema import coverage, runs
from greenline.store.summaries import lookup_chunk, member_of


@dataclass
class BatchHistory:
    """What a run held before a batch of its results was stored (``insert_results`` fills
    it): its result rows, and which of the batch's tests it had results for already."""

    earlier_rows: int = 0
    repeated: set[int] = field(default_factory=set)


def _mark(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def sets_in_run(conn: Connection, run_id: int, pks: Sequence[int]) -> dict[int, int]:
    """The set each of these tests has in the coverage rows of run ``run_id``, when it has
    one."""
    out: dict[int, int] = {}
    size = lookup_chunk(conn)
    mark = _mark(conn)
    for start in range(0, len(pks), size):
        among, values = member_of(conn, list(pks[start : start + size]))
        sql = f"SELECT test_pk, set_id FROM coverage WHERE run_id = {mark} AND test_pk {among}"
        out.update(
            (int(pk), int(set_id)) for pk, set_id in conn.exec_driver_sql(sql, (run_id, *values))
        )
    return out


def pick_owner(conn: Connection, run_id: int) -> int | None:
    """The run whose rows a new run's coverage is compared with: the newest complete run of
    its repository and environment with coverage (its owner, when it shares)."""
    me = conn.execute(
        select(runs.c.repository_id, runs.c.environment_id).where(runs.c.id == run_id)
    ).one()
    environment = (
        runs.c.environment_id.is_(None)
        if me.environment_id is None
        else runs.c.environment_id == me.environment_id
    )
    row = conn.execute(
        select(runs.c.id, runs.c.coverage_of)
        .where(
            runs.c.repository_id == me.repository_id,
            environment,
            runs.c.id != run_id,
            runs.c.status == RunStatus.COMPLETE.value,
            runs.c.has_coverage.is_(True),
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    owner = int(row.coverage_of if row.coverage_of is not None else row.id)
    # PostgreSQL: the owner's row stays locked (shared) until this run's batch commits, so a
    # prune deleting it waits, then finds this run among those sharing it; if the prune took
    # the row first, it is gone once this lock is granted: no owner. (SQLite's writers take
    # turns: nothing to lock.)
    locked = conn.execute(
        select(runs.c.id).where(runs.c.id == owner).with_for_update(read=True)
    ).first()
    return owner if locked is not None else None


def agrees(
    conn: Connection,
    owner: int,
    tests: Collection[int],
    set_ids: Mapping[int, int | None],
    history: BatchHistory,
) -> bool:
    """Whether a batch adds nothing to run ``owner``'s coverage: no test given before, and
    each test's set (``set_ids``, None: not a stored set; a test absent: no blocks) the one the
    owner has for it (absent: none)."""
    if history.repeated & set(tests) or any(v is None for v in set_ids.values()):
        return False
    have = sets_in_run(conn, owner, sorted(tests))
    return all(have.get(pk) == set_ids.get(pk) for pk in tests)


def start_sharing(conn: Connection, run_id: int, owner: int) -> None:
    conn.execute(
        update(runs).where(runs.c.id == run_id).values(coverage_of=owner, has_coverage=True)
    )


def stop_sharing(conn: Connection, run_id: int, owner: int, fresh: Collection[int] = ()) -> int:
    """Give run ``run_id`` rows of its own: the owner's, for every test it stored results
    for (but ``fresh``: the tests of the batch being written, given for the first time);
    how many rows it got."""
    from greenline.store.writes import insert_id_rows

    sql = (
        "SELECT coverage.test_pk, coverage.set_id FROM coverage WHERE coverage.run_id = "
        f"{_mark(conn)} AND coverage.test_pk IN (SELECT test_pk FROM results "
        f"WHERE results.run_id = {_mark(conn)})"
    )
    skip = set(fresh)
    rows = [
        (run_id, int(pk), int(set_id))
        for pk, set_id in conn.exec_driver_sql(sql, (owner, run_id))
        if int(pk) not in skip
    ]
    conn.execute(update(runs).where(runs.c.id == run_id).values(coverage_of=None))
    insert_id_rows(conn, "coverage", ("run_id", "test_pk", "set_id"), sorted(rows))
    return len(rows)


def settle(conn: Connection, run_ids: Sequence[int]) -> None:
    """Runs that end: one that shares keeps sharing only if its owner has coverage of no test
    it did not run (else it gets its own rows)."""
    for run_id in run_ids:
        owner = conn.execute(select(runs.c.coverage_of).where(runs.c.id == run_id)).scalar()
        if owner is None:
            continue
        mark = _mark(conn)
        sql = (
            f"SELECT 1 FROM coverage WHERE coverage.run_id = {mark} AND NOT EXISTS "
            "(SELECT 1 FROM results WHERE results.run_id = "
            f"{mark} AND results.test_pk = coverage.test_pk) LIMIT 1"
        )
        if conn.exec_driver_sql(sql, (owner, run_id)).first() is not None:
            stop_sharing(conn, run_id, int(owner))


def _sharers(conn: Connection, doomed: Collection[int]) -> dict[int, list[Any]]:
    """Per run about to be deleted, the runs left standing that share its coverage."""
    gone = set(doomed)
    owners = sorted(gone)
    size = lookup_chunk(conn)
    out: dict[int, list[Any]] = {}
    for start in range(0, len(owners), size):
        query = select(runs.c.id, runs.c.coverage_of, runs.c.status).where(
            runs.c.coverage_of.in_(owners[start : start + size])
        )
        for row in conn.execute(query):
            if row.id not in gone:
                out.setdefault(int(row.coverage_of), []).append(row)
    return out


def kept_owners(conn: Connection, doomed: Collection[int]) -> list[int]:
    """The runs about to be deleted whose coverage rows ``hand_over`` keeps (a finished run
    left standing shares them)."""
    return sorted(
        owner
        for owner, rows in _sharers(conn, doomed).items()
        if any(r.status != RunStatus.RUNNING.value for r in rows)
    )


def hand_over(conn: Connection, doomed: Collection[int]) -> None:
    """Before runs are deleted: the runs that share one of them keep their coverage. A running
    one gets rows of its own; of the finished ones, the newest takes the owner's rows and the
    others share them from it. The doomed rows are locked first: a run that picked one of
    them as its owner has committed by then, or finds it gone (see ``pick_owner``)."""
    doomed = sorted(doomed)
    size = lookup_chunk(conn)
    for start in range(0, len(doomed), size):
        chunk = doomed[start : start + size]
        conn.execute(select(runs.c.id).where(runs.c.id.in_(chunk)).with_for_update()).all()
    for owner, rows in sorted(_sharers(conn, doomed).items()):
        for row in rows:
            if row.status == RunStatus.RUNNING.value:
                stop_sharing(conn, row.id, owner)
        finished = sorted(r.id for r in rows if r.status != RunStatus.RUNNING.value)
        if not finished:
            continue
        heir = finished[-1]
        conn.execute(update(coverage).where(coverage.c.run_id == owner).values(run_id=heir))
        conn.execute(update(runs).where(runs.c.id == heir).values(coverage_of=None))
        if finished[:-1]:
            conn.execute(update(runs).where(runs.c.id.in_(finished[:-1])).values(coverage_of=heir))
