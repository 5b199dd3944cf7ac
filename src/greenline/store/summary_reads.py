"""Reading the tests' summaries (``test_summaries``, kept as results are stored): a page of the
repository's tests in id order, its failing tests, its slowest. Plain SQL for either kind of
connection (see ``lookups``): ``greenline tests`` and ``GET /api/v1/tests`` read the same rows.
"""

from __future__ import annotations

from typing import Any

from greenline.model import TestSummary
from greenline.store.lookups import (
    FAILED_CONDITION,
    SqlConnection,
    as_utc,
    fetch_rows,
    outcome_of,
)

_COLUMNS = (
    "test_summaries.test_id, test_summaries.runs, test_summaries.failures, "
    "test_summaries.seconds, test_summaries.last_outcome, test_summaries.last_run_id, "
    "runs.started_at"
)
_FROM = (
    "FROM test_summaries JOIN repositories ON test_summaries.repository_id = repositories.id "
    "JOIN runs ON runs.id = test_summaries.last_run_id"
)


def _to_summary(row: Any) -> TestSummary:
    test_id, runs, failures, seconds, outcome, run_id, started = row
    last_seen = as_utc(started)
    assert last_seen is not None  # a run's start is never null
    return TestSummary(
        test_id=test_id,
        runs=int(runs),
        failures=int(failures),
        mean_duration=float(seconds) / int(runs),
        last_outcome=outcome_of(outcome),
        last_run_id=int(run_id),
        last_seen=last_seen,
    )


def list_test_summaries(
    conn: SqlConnection,
    repository: str,
    *,
    after: str | None = None,
    limit: int | None = None,
    failing: bool = False,
    slowest: int | None = None,
) -> list[TestSummary]:
    """The repository's tests that have results: in id order (code point order on either
    database), those after test id ``after`` and at most ``limit`` of them; ``failing``: only
    those whose newest run's outcome is a failure; ``slowest``: the N with the highest mean
    duration instead, slowest first (ties in id order)."""
    where = ["repositories.name = :repository"]
    params: dict[str, object] = {"repository": repository}
    if after is not None:
        where.append("test_summaries.test_id > :after")
        params["after"] = after
    if failing:
        where.append(f"test_summaries.{FAILED_CONDITION.replace('outcome', 'last_outcome')}")
    order = "test_summaries.test_id"
    if slowest is not None:
        order = f"test_summaries.seconds / test_summaries.runs DESC, {order}"
        limit = slowest if limit is None else min(limit, slowest)
    query = f"SELECT {_COLUMNS} {_FROM} WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is not None:
        query += " LIMIT :limit"
        params["limit"] = limit
    return [_to_summary(row) for row in fetch_rows(conn, query, params)]
