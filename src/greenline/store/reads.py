"""Reading runs, results, test histories and coverage back as model values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, select

from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Observation,
    Outcome,
    Phase,
    QuarantineEntry,
    Run,
    RunStatus,
    TestCoverage,
    TestHistoryEntry,
    TestResult,
    TestSummary,
)
from greenline.store.schema import (
    branches,
    commits,
    coverage,
    environments,
    file_reads,
    flaky_scans,
    import_coverage,
    merge_queues,
    quarantine,
    rankers,
    repositories,
    results,
    runs,
    selection_features,
    source_blocks,
    tests,
)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything greenline stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _run_query() -> Select[Any]:
    return (
        select(
            runs,
            repositories.c.name.label("repository"),
            commits.c.sha,
            commits.c.committed_at,
            commits.c.subject,
            branches.c.name.label("branch"),
            environments.c.python,
            environments.c.platform,
            environments.c.packages_hash,
        )
        .join(repositories, runs.c.repository_id == repositories.c.id)
        .outerjoin(commits, runs.c.commit_id == commits.c.id)
        .outerjoin(branches, runs.c.branch_id == branches.c.id)
        .outerjoin(environments, runs.c.environment_id == environments.c.id)
    )


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


def _run_stats(conn: Connection, run_ids: Sequence[int]) -> dict[int, tuple[dict[str, int], float]]:
    final = _final_results(run_ids).subquery()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    query = select(final.c.run_id, final.c.outcome, func.count()).group_by(
        final.c.run_id, final.c.outcome
    )
    for run_id, outcome, n in conn.execute(query):
        counts[run_id][outcome] = n
    durations = dict(
        conn.execute(
            select(results.c.run_id, func.sum(results.c.duration))
            .where(results.c.run_id.in_(run_ids))
            .group_by(results.c.run_id)
        ).all()
    )
    return {rid: (counts.get(rid, {}), float(durations.get(rid) or 0.0)) for rid in run_ids}


def _to_run(row: Any, stats: tuple[dict[str, int], float]) -> Run:
    env = None
    if row.python is not None:
        env = Environment(row.python, row.platform, row.packages_hash)
    commit = CommitInfo(
        sha=row.sha,
        branch=row.branch,
        dirty=bool(row.dirty),
        committed_at=as_utc(row.committed_at),
        subject=row.subject,
    )
    started = as_utc(row.started_at)
    assert started is not None
    return Run(
        id=row.id,
        repository=row.repository,
        status=RunStatus(row.status),
        source=row.source,
        started_at=started,
        finished_at=as_utc(row.finished_at),
        commit=commit,
        environment=env,
        counts=stats[0],
        duration=stats[1],
        exit_status=row.exit_status,
        has_coverage=bool(row.has_coverage),
        args=row.args,
    )


def list_runs(
    conn: Connection,
    repository: str | None,
    *,
    limit: int = 20,
    status: RunStatus | None = None,
    branch: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Run]:
    """The newest runs first; ``before`` (a run's start and id) pages on after that run."""
    query = _run_query().order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
    if before is not None:
        started, run_id = before
        query = query.where(
            (runs.c.started_at < started) | ((runs.c.started_at == started) & (runs.c.id < run_id))
        )
    if repository is not None:
        query = query.where(repositories.c.name == repository)
    if status is not None:
        query = query.where(runs.c.status == status.value)
    if branch is not None:
        query = query.where(branches.c.name == branch)
    rows = conn.execute(query).all()
    stats = _run_stats(conn, [r.id for r in rows])
    return [_to_run(r, stats[r.id]) for r in rows]


def get_run(conn: Connection, run_id: int) -> Run | None:
    row = conn.execute(_run_query().where(runs.c.id == run_id)).first()
    if row is None:
        return None
    return _to_run(row, _run_stats(conn, [run_id])[run_id])


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
    return TestResult(
        test_id=row.test_id,
        outcome=Outcome(row.outcome),
        duration=row.duration,
        phase=Phase(row.phase) if row.phase else None,
        message=row.message,
        attempt=row.attempt,
        path=row.path,
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


def final_results(conn: Connection, run_id: int) -> list[TestResult]:
    """Each test's last attempt in a run (its final outcome), with the test's file."""
    final = _final_results([run_id]).subquery()
    query = select(final, tests.c.test_id, tests.c.path).join(tests, final.c.test_pk == tests.c.id)
    return [_to_result(row) for row in conn.execute(query)]


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


def recent_outcomes(
    conn: Connection, repository: str, runs_back: int = 20
) -> tuple[dict[str, int], dict[str, int]]:
    """Over the repository's last ``runs_back`` finished runs: per test, the runs whose final
    outcome was a failure, and the runs it took part in."""
    recent = list(conn.execute(_recent_runs(repository, runs_back)).scalars())
    if not recent:
        return {}, {}
    final = _final_results(recent).subquery()
    failed = func.sum(
        case((final.c.outcome.in_([Outcome.FAILED.value, Outcome.ERROR.value]), 1), else_=0)
    )
    query = (
        select(tests.c.test_id, failed, func.count())
        .select_from(final)
        .join(tests, final.c.test_pk == tests.c.id)
        .group_by(tests.c.test_id)
    )
    failures: dict[str, int] = {}
    taken: dict[str, int] = {}
    for test_id, n_failed, n in conn.execute(query):
        taken[test_id] = int(n)
        if n_failed:
            failures[test_id] = int(n_failed)
    return failures, taken


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


def latest_ranker(conn: Connection, repository: str) -> tuple[int, datetime, str] | None:
    """The repository's newest learned model: (id, created at, JSON), adopted or not."""
    query = (
        select(rankers.c.id, rankers.c.created_at, rankers.c.model)
        .join(repositories, rankers.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
        .order_by(rankers.c.created_at.desc(), rankers.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    created = as_utc(row.created_at)
    assert created is not None
    return int(row.id), created, str(row.model)


def latest_baselines(conn: Connection, repository: str, limit: int = 50) -> list[Run]:
    """Complete runs with coverage, newest first: the candidates for a selection baseline."""
    query = (
        _run_query()
        .where(
            repositories.c.name == repository,
            runs.c.status == RunStatus.COMPLETE.value,
            runs.c.has_coverage.is_(True),
            # a run on an uncommitted tree recorded code no commit holds: the change since its
            # commit would not show what differs from what it ran
            runs.c.dirty.is_(False),
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    rows = conn.execute(query).all()
    return [_to_run(row, ({}, 0.0)) for row in rows]


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


def run_coverage(
    conn: Connection, run_id: int, paths: Collection[str] | None = None
) -> list[TestCoverage]:
    """The blocks each test of a run executed (only blocks in ``paths``, when given)."""
    query = (
        select(
            tests.c.test_id, source_blocks.c.path, source_blocks.c.name, source_blocks.c.checksum
        )
        .select_from(coverage)
        .join(tests, coverage.c.test_pk == tests.c.id)
        .join(source_blocks, coverage.c.block_id == source_blocks.c.id)
        .where(coverage.c.run_id == run_id)
    )
    if paths is not None:
        if not paths:
            return []
        query = query.where(source_blocks.c.path.in_(sorted(paths)))
    acc: dict[str, set[Block]] = defaultdict(set)
    for test_id, path, name, checksum in conn.execute(query):
        acc[test_id].add(Block(path, name, checksum))
    return [TestCoverage(t, frozenset(b)) for t, b in sorted(acc.items())]


def run_import_coverage(
    conn: Connection, run_id: int, paths: Collection[str] | None = None
) -> dict[str, frozenset[Block]]:
    """What ran while each module was imported before the run's first test, per importing
    module (only blocks in ``paths``, when given)."""
    query = (
        select(
            import_coverage.c.module_path,
            source_blocks.c.path,
            source_blocks.c.name,
            source_blocks.c.checksum,
        )
        .join(source_blocks, import_coverage.c.block_id == source_blocks.c.id)
        .where(import_coverage.c.run_id == run_id)
    )
    if paths is not None:
        if not paths:
            return {}
        query = query.where(source_blocks.c.path.in_(sorted(paths)))
    acc: dict[str, set[Block]] = defaultdict(set)
    for module, path, name, checksum in conn.execute(query):
        acc[module].add(Block(path, name, checksum))
    return {module: frozenset(blocks) for module, blocks in sorted(acc.items())}


def coverage_sizes(conn: Connection, run_id: int) -> dict[str, int]:
    """How many blocks each test of a run executed (tests without coverage are absent)."""
    sizes = (
        select(coverage.c.test_pk, func.count().label("n"))
        .where(coverage.c.run_id == run_id)
        .group_by(coverage.c.test_pk)
        .subquery()
    )
    query = select(tests.c.test_id, sizes.c.n).join(sizes, sizes.c.test_pk == tests.c.id)
    return {str(test_id): int(n) for test_id, n in conn.execute(query)}


def run_file_reads(conn: Connection, run_id: int) -> dict[str, frozenset[str]]:
    """The non-Python files each test of a run read."""
    query = (
        select(tests.c.test_id, file_reads.c.path)
        .join(tests, file_reads.c.test_pk == tests.c.id)
        .where(file_reads.c.run_id == run_id)
    )
    acc: dict[str, set[str]] = defaultdict(set)
    for test_id, path in conn.execute(query):
        acc[test_id].add(path)
    return {t: frozenset(p) for t, p in acc.items()}


def count_rows(conn: Connection) -> dict[str, int]:
    """Row counts of the main tables, for ``greenline db info``."""
    tables = {"repositories": repositories, "runs": runs, "tests": tests, "results": results}
    tables |= {"source_blocks": source_blocks, "coverage": coverage}
    return {
        name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
        for name, t in tables.items()
    }


def observations(conn: Connection, repository: str, runs_back: int) -> list[Observation]:
    """Every pass/fail/error attempt in the repository's last ``runs_back`` finished runs."""
    recent = _recent_runs(repository, runs_back).subquery()
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


def quarantine_entries(
    conn: Connection, repository: str, test_id: str | None = None
) -> list[QuarantineEntry]:
    """The repository's quarantine entries (optionally one test's), newest first."""
    query = (
        select(quarantine)
        .join(repositories, quarantine.c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository)
        .order_by(quarantine.c.created_at.desc(), quarantine.c.id.desc())
    )
    if test_id is not None:
        query = query.where(quarantine.c.test_id == test_id)
    out = []
    for row in conn.execute(query):
        created = as_utc(row.created_at)
        assert created is not None
        out.append(
            QuarantineEntry(
                test_id=row.test_id,
                reason=row.reason,
                owner=row.owner,
                created_at=created,
                expires_at=as_utc(row.expires_at),
                released_at=as_utc(row.released_at),
                release_reason=row.release_reason,
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
