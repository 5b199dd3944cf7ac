"""Keeping the read summaries as results are stored, in the transaction that stores them: the
run's result rows, summed durations and final outcome counts (``runs``, ``run_outcomes``) and
each test's runs, failures, summed durations and newest outcome (``test_summaries``).

A test's final outcome in a run is its highest attempt. A batch whose attempt is higher than
the one stored replaces it (its outcome and duration are counted in place of the other's); a
lower one changes no final. Every change is an increment applied by the database
(``x = x + delta``), so writers that interleave on PostgreSQL never lose one another's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, text, update

from greenline.store.schema import runs

FAILED_OUTCOMES = frozenset({"failed", "error"})
CHUNK = 400


class _Final(NamedTuple):
    attempt: int
    outcome: str
    duration: float


def fold_results(
    conn: Connection,
    run_id: int,
    repo_id: int,
    rows: Sequence[Mapping[str, Any]],
    test_ids: Mapping[int, str],
) -> tuple[int, set[int]]:
    """Count ``rows`` (result rows of run ``run_id`` about to be inserted; ``test_ids``: the
    id of each test primary key in them) into the summaries. Called before they are inserted,
    so the finals it finds stored are the run's earlier ones. Returns the run's result rows
    before these, and the tests among them it had results for."""
    if not rows:
        return 0, set()
    seconds = sum(r["duration"] for r in rows)
    # the run's row first: it orders writers of one run (PostgreSQL locks it until commit),
    # and says whether the run has stored results whose finals this batch may replace
    stored_rows = conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            result_rows=runs.c.result_rows + len(rows),
            result_seconds=runs.c.result_seconds + seconds,
        )
        .returning(runs.c.result_rows)
    ).scalar_one() - len(rows)
    newest: dict[int, Mapping[str, Any]] = {}
    for r in rows:
        kept = newest.get(r["test_pk"])
        if kept is None or r["attempt"] > kept["attempt"]:
            newest[r["test_pk"]] = r
    before = _stored_finals(conn, run_id, sorted(newest)) if stored_rows else {}
    outcomes: Counter[str] = Counter()
    tests = []
    for pk in newest:
        new = newest[pk]
        outcome, duration = new["outcome"], new["duration"]
        old = before.get(pk)
        if old is None:
            delta = (1, int(outcome in FAILED_OUTCOMES), duration)
        elif old.attempt >= new["attempt"]:
            continue  # an earlier attempt stored late: the final stays
        else:
            outcomes[old.outcome] -= 1
            failed = (outcome in FAILED_OUTCOMES) - (old.outcome in FAILED_OUTCOMES)
            delta = (0, failed, duration - old.duration)
        outcomes[outcome] += 1
        tests.append((pk, repo_id, test_ids[pk], *delta, run_id, outcome))
    pending = conn.info.get(PENDING)
    if isinstance(pending, Pending):
        pending.add(run_id, outcomes, tests)
    else:
        _add_outcomes(conn, run_id, outcomes)
        _add_test_summaries(conn, sorted(tests))
    return stored_rows, set(before)


#: where a write transaction keeps the summary changes it applies last (``Pending``)
PENDING = "greenline.pending_summaries"


class Pending:
    """The summary changes of one write transaction, applied as its last statements: on
    PostgreSQL a test's summary row stays locked from its update to the commit, so writers of
    other runs of the same suite wait for the commit alone, not for the rest of the batch."""

    def __init__(self) -> None:
        self.outcomes: dict[int, Counter[str]] = {}
        self.tests: dict[int, tuple[Any, ...]] = {}

    def add(self, run_id: int, outcomes: Counter[str], tests: list[tuple[Any, ...]]) -> None:
        self.outcomes.setdefault(run_id, Counter()).update(outcomes)
        for row in tests:
            kept = self.tests.get(row[0])
            if kept is not None:  # one row per test: the deltas add up, the newer run wins
                newer = row if row[6] >= kept[6] else kept
                row = (*row[:3], kept[3] + row[3], kept[4] + row[4], kept[5] + row[5], *newer[6:])
            self.tests[row[0]] = row

    def apply(self, conn: Connection) -> None:
        for run_id in sorted(self.outcomes):
            _add_outcomes(conn, run_id, self.outcomes[run_id])
        # key order: concurrent writers take the summary rows' locks alike (no deadlock)
        _add_test_summaries(conn, [self.tests[pk] for pk in sorted(self.tests)])


def _stored_finals(conn: Connection, run_id: int, pks: Sequence[int]) -> dict[int, _Final]:
    """The highest stored attempt of each of these tests in the run."""
    out: dict[int, _Final] = {}
    mark = _mark(conn)
    size = lookup_chunk(conn)
    for start in range(0, len(pks), size):
        chunk = list(pks[start : start + size])
        among, values = member_of(conn, chunk)
        sql = (
            "SELECT test_pk, attempt, outcome, duration FROM results WHERE run_id = "
            f"{mark} AND test_pk {among} ORDER BY test_pk, attempt"
        )
        for pk, attempt, outcome, duration in conn.exec_driver_sql(sql, (run_id, *values)):
            out[pk] = _Final(attempt, outcome, float(duration or 0.0))
    return out


def lookup_chunk(conn: Connection) -> int:
    """How many values one ``member_of`` condition takes: SQLite's statements hold a bounded
    number of parameters; PostgreSQL's array is one (one statement reads the table once)."""
    return 10_000 if conn.dialect.name == "postgresql" else CHUNK


def member_of(conn: Connection, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """A driver-level condition that a column is one of ``values`` (all numbers or all text):
    its SQL after the column (``IN (?, ?, …)``; on PostgreSQL a semi-join with one array
    parameter instead of hundreds) and its parameters.

    Not ``= ANY(%s)`` on PostgreSQL: on a table without statistics (a new store, or a server
    whose autovacuum is off) its plan compares each row of the run or repository with every
    element (the finals of 2,000 tests among a run's results: 130 ms, not 9)."""
    mark = _mark(conn)
    if conn.dialect.name == "postgresql":
        kind = "bigint" if all(isinstance(v, int) for v in values) else "text"
        return f"IN (SELECT unnest({mark}::{kind}[]))", (list(values),)
    return f"IN ({', '.join([mark] * len(values))})", tuple(values)


def _mark(conn: Connection) -> str:
    """The driver's positional parameter marker: these statements go to the driver as they
    are (thousands of rows a batch: no per-row parameter processing)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _add_outcomes(conn: Connection, run_id: int, outcomes: Counter[str]) -> None:
    rows = [(run_id, o, n) for o, n in sorted(outcomes.items()) if n]
    if not rows:
        return
    mark = _mark(conn)
    sql = (
        f"INSERT INTO run_outcomes (run_id, outcome, tests) VALUES ({mark}, {mark}, {mark}) "
        "ON CONFLICT (run_id, outcome) DO UPDATE SET tests = run_outcomes.tests + excluded.tests"
    )
    conn.exec_driver_sql(sql, rows)


#: a summary row's columns, in the order ``fold_results`` gives them
_SUMMARY_COLUMNS = (
    "test_pk, repository_id, test_id, runs, failures, seconds, last_run_id, last_outcome"
)
_PG_ARRAYS = (
    "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::text[], %s::integer[], "
    "%s::integer[], %s::double precision[], %s::integer[], %s::text[])"
)
#: the newer run's outcome wins (SET reads the row as it was before the update)
_NEWER = "excluded.last_run_id >= test_summaries.last_run_id"
_ADD_SUMMARY = (
    f"INSERT INTO test_summaries ({_SUMMARY_COLUMNS}) {{values}} "
    "ON CONFLICT (test_pk) DO UPDATE SET runs = test_summaries.runs + excluded.runs, "
    "failures = test_summaries.failures + excluded.failures, "
    "seconds = test_summaries.seconds + excluded.seconds, "
    f"last_outcome = CASE WHEN {_NEWER} THEN excluded.last_outcome "
    "ELSE test_summaries.last_outcome END, "
    f"last_run_id = CASE WHEN {_NEWER} THEN excluded.last_run_id "
    "ELSE test_summaries.last_run_id END"
)


def _add_test_summaries(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # one statement of arrays: executemany would send (and adapt) a statement per row
        columns = [list(column) for column in zip(*rows, strict=True)]
        conn.exec_driver_sql(_ADD_SUMMARY.format(values=_PG_ARRAYS), tuple(columns))
        return
    marks = ", ".join([_mark(conn)] * 8)
    conn.exec_driver_sql(_ADD_SUMMARY.format(values=f"VALUES ({marks})"), rows)


def rebuild_test_summaries(conn: Connection, repo_id: int) -> None:
    """Each test's summary of a repository computed again from the results stored (after
    runs were deleted: a prune), as ``fold_results`` keeps them."""
    final = (
        "NOT EXISTS (SELECT 1 FROM results AS later WHERE later.run_id = results.run_id "
        "AND later.test_pk = results.test_pk AND later.attempt > results.attempt)"
    )
    failed = "outcome IN ('failed', 'error')"
    params = {"repo": repo_id}
    conn.execute(text("DELETE FROM test_summaries WHERE repository_id = :repo"), params)
    conn.execute(
        text(
            "INSERT INTO test_summaries (test_pk, repository_id, test_id, runs, failures, "
            "seconds, last_run_id, last_outcome) SELECT tests.id, tests.repository_id, "
            "tests.test_id, finals.runs, finals.failures, finals.seconds, finals.last_run_id, "
            "'' FROM tests JOIN (SELECT test_pk, count(*) AS runs, "
            f"sum(CASE WHEN {failed} THEN 1 ELSE 0 END) AS failures, "
            "sum(duration) AS seconds, max(run_id) AS last_run_id "
            f"FROM results WHERE {final} GROUP BY test_pk) AS finals "
            "ON finals.test_pk = tests.id WHERE tests.repository_id = :repo"
        ),
        params,
    )
    conn.execute(
        text(
            "UPDATE test_summaries SET last_outcome = (SELECT results.outcome FROM results "
            "WHERE results.run_id = test_summaries.last_run_id "
            "AND results.test_pk = test_summaries.test_pk ORDER BY results.attempt DESC "
            "LIMIT 1) WHERE repository_id = :repo"
        ),
        params,
    )
