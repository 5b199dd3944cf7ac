"""Reading runs, results, test histories and coverage back as model values.

The reads the quick commands need (runs, final results, a baseline's coverage, recent outcomes)
are plain SQL in ``lookups``, written once for sqlite3 and SQLAlchemy; they are re-exported here,
so every caller reads through one module.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select, text

from greenline.model import (
    Observation,
    Outcome,
    RunStatus,
    TestHistoryEntry,
    TestResult,
    TestSummary,
)
from greenline.store.lookups import (
    FAILED_CONDITION,
    as_utc,
    coverage_sizes,
    final_results,
    get_run,
    latest_baselines,
    latest_ranker,
    list_runs,
    quarantine_entries,
    recent_outcomes,
    result_of,
    run_coverage,
    run_file_reads,
    run_import_coverage,
)
from greenline.store.schema import (
    branches,
    commits,
    coverage,
    coverage_set_blocks,
    coverage_sets,
    environments,
    flaky_scans,
    merge_queues,
    repositories,
    results,
    runs,
    selection_features,
    source_blocks,
    tests,
)

__all__ = [
    "as_utc",
    "count_rows",
    "coverage_sizes",
    "failed_tests",
    "final_results",
    "find_run_at",
    "find_run_by_process",
    "get_run",
    "known_test_ids",
    "latest_baselines",
    "latest_ranker",
    "list_runs",
    "merge_queue",
    "observations",
    "quarantine_entries",
    "read_test_history",
    "recent_flaky_scans",
    "recent_outcomes",
    "run_coverage",
    "run_file_reads",
    "run_import_coverage",
    "run_results",
    "selection_examples",
    "summarize_tests",
]


def _last_attempts(run_ids: Sequence[int]) -> Any:
    """Subquery: the last attempt of each test in the given runs (its final outcome)."""
    return (
        select(results.c.run_id, results.c.test_pk, func.max(results.c.attempt).label("attempt"))
        .where(results.c.run_id.in_(run_ids))
        .group_by(results.c.run_id, results.c.test_pk)
        .subquery()
    )


def _final_results(run_ids: Sequence[int]) -> Select[Any]:
    last = _last_attempts(run_ids)
    return select(results).join(
        last,
        and_(
            results.c.run_id == last.c.run_id,
            results.c.test_pk == last.c.test_pk,
            results.c.attempt == last.c.attempt,
        ),
    )


def find_run_by_process(conn: Connection, hostname: str, pid: int) -> int | None:
    """The newest run started by process ``pid`` on ``hostname``."""
    query = (
        select(runs.c.id)
        .where(runs.c.hostname == hostname, runs.c.pid == pid)
        .order_by(runs.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()


def _to_result(row: Any) -> TestResult:
    return result_of(
        row.test_id, row.outcome, row.duration, row.phase, row.message, row.attempt, row.path
    )


def run_results(conn: Connection, run_id: int) -> list[TestResult]:
    """Every attempt of every test in a run, in test id order."""
    query = (
        select(results, tests.c.test_id, tests.c.path)
        .join(tests, results.c.test_pk == tests.c.id)
        .where(results.c.run_id == run_id)
        .order_by(tests.c.test_id, results.c.attempt)
    )
    return [_to_result(row) for row in conn.execute(query)]


def summarize_tests(
    conn: Connection, repository: str, *, since_run: int | None = None
) -> list[TestSummary]:
    """Per test: runs, failures, mean duration and the last outcome, over the repo's runs."""
    final = _final_results(
        select(runs.c.id)
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository, runs.c.id >= (since_run or 0))
        .scalar_subquery()  # type: ignore[arg-type]
    ).subquery()
    query = (
        select(final, tests.c.test_id, runs.c.started_at)
        .join(tests, final.c.test_pk == tests.c.id)
        .join(runs, final.c.run_id == runs.c.id)
        .order_by(final.c.run_id)
    )
    acc: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query):
        entry = acc.setdefault(row.test_id, {"runs": 0, "failures": 0, "time": 0.0})
        entry["runs"] += 1
        entry["failures"] += Outcome(row.outcome).is_failure
        entry["time"] += row.duration
        entry["last"] = (Outcome(row.outcome), row.run_id, as_utc(row.started_at))
    return [
        TestSummary(
            test_id=test_id,
            runs=e["runs"],
            failures=e["failures"],
            mean_duration=e["time"] / e["runs"],
            last_outcome=e["last"][0],
            last_run_id=e["last"][1],
            last_seen=e["last"][2],
        )
        for test_id, e in acc.items()
    ]


def read_test_history(
    conn: Connection, repository: str, test_id: str, *, limit: int = 50
) -> list[TestHistoryEntry]:
    """A test's results, newest run first (all attempts)."""
    query = (
        select(
            results,
            tests.c.test_id,
            tests.c.path,
            runs.c.started_at,
            commits.c.sha,
            branches.c.name.label("branch"),
        )
        .join(tests, results.c.test_pk == tests.c.id)
        .join(runs, results.c.run_id == runs.c.id)
        .join(repositories, tests.c.repository_id == repositories.c.id)
        .outerjoin(commits, runs.c.commit_id == commits.c.id)
        .outerjoin(branches, runs.c.branch_id == branches.c.id)
        .where(repositories.c.name == repository, tests.c.test_id == test_id)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc(), results.c.attempt.desc())
        .limit(limit)
    )
    out = []
    for row in conn.execute(query):
        started = as_utc(row.started_at)
        assert started is not None
        out.append(TestHistoryEntry(row.run_id, started, row.sha, row.branch, _to_result(row)))
    return out


def _recent_runs(repository: str, runs_back: int) -> Select[Any]:
    """The ids of the repository's last ``runs_back`` finished runs, newest first."""
    return (
        select(runs.c.id)
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .where(
            repositories.c.name == repository,
            runs.c.status.in_([RunStatus.COMPLETE.value, RunStatus.INCOMPLETE.value]),
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(runs_back)
    )


def selection_examples(conn: Connection, repository: str) -> list[tuple[int, str, str]]:
    """(run id, features JSON, final outcome) of every affected test a recorded run ran."""
    with_features = (
        select(selection_features.c.run_id)
        .distinct()
        .join(runs, runs.c.id == selection_features.c.run_id)
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
    )
    run_ids = list(conn.execute(with_features).scalars())
    if not run_ids:
        return []
    final = _final_results(run_ids).subquery()
    query = (
        select(selection_features.c.run_id, selection_features.c.features, final.c.outcome)
        .join(
            final,
            and_(
                final.c.run_id == selection_features.c.run_id,
                final.c.test_pk == selection_features.c.test_pk,
            ),
        )
        .order_by(selection_features.c.run_id)
    )
    return [(int(r), f, o) for r, f, o in conn.execute(query)]


def find_run_at(conn: Connection, repository: str, sha: str, started_at: datetime) -> int | None:
    """The run of ``repository`` on commit ``sha`` that started at ``started_at`` (one copy of
    a baseline imported twice)."""
    query = (
        select(runs.c.id, runs.c.started_at)
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .join(commits, runs.c.commit_id == commits.c.id)
        .where(repositories.c.name == repository, commits.c.sha == sha)
    )
    wanted = as_utc(started_at)
    return next((row.id for row in conn.execute(query) if as_utc(row.started_at) == wanted), None)


def known_test_ids(conn: Connection, repository: str) -> list[str]:
    query = (
        select(tests.c.test_id)
        .join(repositories, tests.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
    )
    return list(conn.execute(query).scalars())


def count_rows(conn: Connection) -> dict[str, int]:
    """Row counts of the main tables, for ``greenline db info``."""
    tables = {"repositories": repositories, "runs": runs, "tests": tests, "results": results}
    tables |= {"source_blocks": source_blocks, "coverage": coverage}
    tables |= {"coverage_sets": coverage_sets, "coverage_set_blocks": coverage_set_blocks}
    return {
        name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
        for name, t in tables.items()
    }


def failed_tests(conn: Connection, run_ids: Sequence[int]) -> list[int]:
    """The primary keys of the tests that failed or errored (any attempt) in these runs, read
    from the index of failed results alone."""
    if not run_ids:
        return []
    query = (
        select(results.c.test_pk)
        .distinct()
        .where(results.c.run_id.in_(run_ids), text(f"results.{FAILED_CONDITION}"))
    )
    return sorted(int(pk) for pk in conn.execute(query).scalars())


def observations(
    conn: Connection,
    repository: str,
    runs_back: int,
    *,
    run_ids: Sequence[int] | None = None,
    test_pks: Collection[int] | None = None,
) -> list[Observation]:
    """Every pass/fail/error attempt in the repository's last ``runs_back`` finished runs (or
    in the runs ``run_ids``, when the caller has them); only those of ``test_pks``, when
    given."""
    recent: Any = _recent_runs(repository, runs_back).subquery()
    if run_ids is not None:
        recent = select(runs.c.id).where(runs.c.id.in_(run_ids)).subquery()
    query = (
        select(
            tests.c.test_id,
            results.c.run_id,
            runs.c.started_at,
            commits.c.sha,
            runs.c.dirty,
            environments.c.fingerprint,
            results.c.attempt,
            results.c.outcome,
            results.c.duration,
            results.c.message,
        )
        .join(recent, recent.c.id == results.c.run_id)
        .join(runs, runs.c.id == results.c.run_id)
        .join(tests, tests.c.id == results.c.test_pk)
        .outerjoin(commits, commits.c.id == runs.c.commit_id)
        .outerjoin(environments, environments.c.id == runs.c.environment_id)
        .where(
            results.c.outcome.in_([Outcome.PASSED.value, Outcome.FAILED.value, Outcome.ERROR.value])
        )
    )
    if test_pks is not None:
        if not test_pks:
            return []
        query = query.where(results.c.test_pk.in_(sorted(test_pks)))
    out = []
    for row in conn.execute(query):
        started = as_utc(row.started_at)
        assert started is not None
        out.append(
            Observation(
                test_id=row.test_id,
                run_id=row.run_id,
                started_at=started,
                sha=row.sha,
                dirty=bool(row.dirty),
                environment=row.fingerprint,
                attempt=row.attempt,
                outcome=Outcome(row.outcome),
                duration=row.duration or 0.0,
                message=row.message,
            )
        )
    return out


def recent_flaky_scans(
    conn: Connection, repository: str, sha: str | None = None, limit: int = 20
) -> list[tuple[datetime, str | None, str]]:
    """The newest flaky scans' start, commit and report, newest first: only those of a clean
    tree at ``sha`` when given."""
    query = (
        select(flaky_scans.c.started_at, flaky_scans.c.sha, flaky_scans.c.report)
        .join(repositories, flaky_scans.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
        .order_by(flaky_scans.c.started_at.desc(), flaky_scans.c.id.desc())
        .limit(limit)
    )
    if sha is not None:
        query = query.where(flaky_scans.c.sha == sha, flaky_scans.c.dirty.is_(False))
    out = []
    for row in conn.execute(query):
        started = as_utc(row.started_at)
        assert started is not None
        out.append((started, row.sha, row.report))
    return out


def merge_queue(conn: Connection, repository: str) -> tuple[int, str] | None:
    """The repository's merge-queue document and its version, or None before the first."""
    row = conn.execute(
        select(merge_queues.c.version, merge_queues.c.document)
        .join(repositories, merge_queues.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
    ).first()
    return (int(row[0]), str(row[1])) if row else None
