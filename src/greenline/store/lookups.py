"""The reads of the commands that must answer at once (``runs``, ``select``): runs, a run's
final results, a baseline's coverage and the recent outcomes, as plain SQL.

Each read is written once and runs on either kind of connection the store hands out: a
sqlite3 connection (``Store.lookup`` on a SQLite file: no SQLAlchemy to import, which costs a
command more than the read) or a SQLAlchemy one (PostgreSQL, and every caller already inside a
``Store.read`` or ``Store.write`` transaction). The SQL is the subset both databases speak; rows
come back as tuples, and values are normalised here (SQLite keeps datetimes as text).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Outcome,
    Phase,
    QuarantineEntry,
    Run,
    RunStatus,
    TestCoverage,
    TestResult,
)
from greenline.store.guards import driver_error, is_busy_code

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: What every read takes: sqlite3's connection or SQLAlchemy's.
SqlConnection: TypeAlias = "sqlite3.Connection | Connection"
SQLITE_PREFIX = "sqlite:///"
#: A result that is a failure (``Outcome.is_failure``), as SQL: the partial index on failed
#: results (``schema``) and the queries it serves say it with the same words (SQLite matches
#: a query to a partial index by the text of its condition).
FAILED_CONDITION = "outcome IN ('failed', 'error')"


def sqlite_file(url: str) -> Path | None:
    """The file a plain ``sqlite:///path`` URL names (None for anything else: memory, query
    options, escapes, other drivers: those go through SQLAlchemy)."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url.removeprefix(SQLITE_PREFIX)
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return Path(path)


@contextlib.contextmanager
def reading(file: Path, url: str, busy_timeout: float) -> Iterator[sqlite3.Connection]:
    """A read-only transaction on the SQLite file (one snapshot: WAL readers never block)."""
    with translate_sqlite_errors(url):
        conn = open_reader(file, busy_timeout)
        try:
            conn.execute("BEGIN")
            yield conn
        finally:
            conn.close()  # a read transaction has nothing to commit


def open_reader(file: Path, busy_timeout: float) -> sqlite3.Connection:
    """A read-only sqlite3 connection to the file (autocommit: the caller begins)."""
    conn = sqlite3.connect(
        file, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA query_only = ON")
    return conn


@contextlib.contextmanager
def translate_sqlite_errors(url: str) -> Iterator[None]:
    """sqlite3's errors as the store's one line, as the SQLAlchemy path says them."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else str(exc)
        busy = is_busy_code(getattr(exc, "sqlite_errorcode", None), None)
        raise driver_error(url, reason, busy) from None


def read_stamp(conn: sqlite3.Connection) -> str | None:
    """The Alembic revision a SQLite store is stamped with, or None for an empty database."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if found is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _bind(value: object, sqlite: bool) -> object:
    """A parameter as the store holds it: SQLite keeps a datetime as SQLAlchemy writes it."""
    if sqlite and isinstance(value, datetime):
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
    return value


def fetch_rows(
    conn: SqlConnection, sql: str, params: Mapping[str, object] | None = None
) -> list[Any]:
    values = dict(params or {})
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, {k: _bind(v, True) for k, v in values.items()}).fetchall()
    from sqlalchemy import text  # the caller holds a SQLAlchemy connection: it is loaded

    sqlite = conn.dialect.name == "sqlite"
    return list(conn.execute(text(sql), {k: _bind(v, sqlite) for k, v in values.items()}))


def in_list(name: str, values: Sequence[object], params: dict[str, object]) -> str:
    """``(:name_0, :name_1, …)`` for an IN list, its values added to ``params``."""
    keys = [f"{name}_{i}" for i in range(len(values))]
    params.update(zip(keys, values, strict=True))
    return "(" + ", ".join(f":{k}" for k in keys) + ")"


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored datetime as an aware one: SQLite hands back text or naive datetimes, and
    everything greenline stores is UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# -- runs ----------------------------------------------------------------------------------------

_RUN_COLUMNS = (
    "runs.id, runs.dirty, runs.status, runs.source, runs.started_at, runs.finished_at, "
    "runs.exit_status, runs.args, runs.has_coverage, repositories.name, commits.sha, "
    "commits.committed_at, commits.subject, branches.name, environments.python, "
    "environments.platform, environments.packages_hash, runs.result_seconds"
)
_RUN_FROM = (
    "FROM runs JOIN repositories ON runs.repository_id = repositories.id "
    "LEFT OUTER JOIN commits ON runs.commit_id = commits.id "
    "LEFT OUTER JOIN branches ON runs.branch_id = branches.id "
    "LEFT OUTER JOIN environments ON runs.environment_id = environments.id"
)
_NEWEST_FIRST = "ORDER BY runs.started_at DESC, runs.id DESC"


def _to_run(row: Sequence[Any], counts: dict[str, int]) -> Run:
    (run_id, dirty, status, source, started, finished, exit_status, args, has_coverage) = row[:9]
    repository, sha, committed, subject, branch, python, platform, packages, seconds = row[9:]
    env = Environment(python, platform, packages) if python is not None else None
    commit = CommitInfo(
        sha=sha, branch=branch, dirty=bool(dirty), committed_at=as_utc(committed), subject=subject
    )
    started_at = as_utc(started)
    assert started_at is not None
    return Run(
        id=run_id,
        repository=repository,
        status=RunStatus(status),
        source=source,
        started_at=started_at,
        finished_at=as_utc(finished),
        commit=commit,
        environment=env,
        counts=counts,
        duration=float(seconds or 0.0),
        exit_status=exit_status,
        has_coverage=bool(has_coverage),
        args=args,
    )


def _is_final(results: str = "results") -> str:
    """Condition: the row of ``results`` is its test's last attempt in the run (its final
    outcome)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM results AS later WHERE later.run_id = {results}.run_id "
        f"AND later.test_pk = {results}.test_pk AND later.attempt > {results}.attempt)"
    )


def _run_counts(conn: SqlConnection, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Each run's final outcome counts, as the store keeps them."""
    counts: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return counts
    params: dict[str, object] = {}
    query = (
        "SELECT run_id, outcome, tests FROM run_outcomes "
        f"WHERE run_id IN {in_list('run', run_ids, params)} AND tests > 0"
    )
    for run_id, outcome, n in fetch_rows(conn, query, params):
        counts[run_id][outcome] = int(n)
    return counts


def list_runs(
    conn: SqlConnection,
    repository: str | None,
    *,
    limit: int = 20,
    status: RunStatus | None = None,
    branch: str | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[Run]:
    """The newest runs first; ``before`` (a run's start and id) pages on after that run."""
    where: list[str] = []
    params: dict[str, object] = {"limit": limit}
    if before is not None:
        where.append(
            "(runs.started_at < :started OR (runs.started_at = :started AND runs.id < :run_id))"
        )
        params.update(started=before[0], run_id=before[1])
    if repository is not None:
        where.append("repositories.name = :repository")
        params["repository"] = repository
    if status is not None:
        where.append("runs.status = :status")
        params["status"] = status.value
    if branch is not None:
        where.append("branches.name = :branch")
        params["branch"] = branch
    condition = f"WHERE {' AND '.join(where)} " if where else ""
    query = f"SELECT {_RUN_COLUMNS} {_RUN_FROM} {condition}{_NEWEST_FIRST} LIMIT :limit"
    rows = fetch_rows(conn, query, params)
    counts = _run_counts(conn, [r[0] for r in rows])
    return [_to_run(r, counts[r[0]]) for r in rows]


def has_running_runs(conn: SqlConnection, hostname: str) -> bool:
    """True when a run started on ``hostname`` (not an upload's) is still ``running``."""
    query = (
        "SELECT 1 FROM runs WHERE runs.status = :running AND runs.hostname = :hostname "
        "AND runs.id NOT IN (SELECT run_id FROM uploads) LIMIT 1"
    )
    params = {"running": RunStatus.RUNNING.value, "hostname": hostname}
    return bool(fetch_rows(conn, query, params))


def count_runs(
    conn: SqlConnection,
    repository: str,
    *,
    status: RunStatus | None = None,
    branch: str | None = None,
) -> int:
    """How many runs ``list_runs`` would list with these filters and no limit."""
    where = ["repositories.name = :repository"]
    params: dict[str, object] = {"repository": repository}
    if status is not None:
        where.append("runs.status = :status")
        params["status"] = status.value
    if branch is not None:
        where.append("branches.name = :branch")
        params["branch"] = branch
    query = f"SELECT count(*) {_RUN_FROM} WHERE {' AND '.join(where)}"
    return int(fetch_rows(conn, query, params)[0][0])


def count_test_results(conn: SqlConnection, repository: str, test_id: str) -> int:
    """How many results (attempts) of one test the store holds: its history's length."""
    query = (
        "SELECT count(*) FROM results JOIN tests ON results.test_pk = tests.id "
        "JOIN repositories ON tests.repository_id = repositories.id "
        "WHERE repositories.name = :repository AND tests.test_id = :test_id"
    )
    return int(fetch_rows(conn, query, {"repository": repository, "test_id": test_id})[0][0])


def get_run(conn: SqlConnection, run_id: int) -> Run | None:
    rows = fetch_rows(
        conn, f"SELECT {_RUN_COLUMNS} {_RUN_FROM} WHERE runs.id = :id", {"id": run_id}
    )
    if not rows:
        return None
    return _to_run(rows[0], _run_counts(conn, [run_id])[run_id])


def latest_baselines(conn: SqlConnection, repository: str, limit: int = 50) -> list[Run]:
    """Complete runs with coverage, newest first: the candidates for a selection baseline."""
    # a run on an uncommitted tree recorded code no commit holds: the change since its commit
    # would not show what differs from what it ran
    query = (
        f"SELECT {_RUN_COLUMNS} {_RUN_FROM} WHERE repositories.name = :repository "
        "AND runs.status = :status AND runs.has_coverage = :yes AND runs.dirty = :no "
        f"{_NEWEST_FIRST} LIMIT :limit"
    )
    params = {
        "repository": repository,
        "status": RunStatus.COMPLETE.value,
        "yes": True,
        "no": False,
        "limit": limit,
    }
    return [_to_run(row, {}) for row in fetch_rows(conn, query, params)]


# -- results and coverage ------------------------------------------------------------------------


_OUTCOMES = {o.value: o for o in Outcome}
_PHASES = {p.value: p for p in Phase}
#: (test id, outcome, duration, phase, message, attempt, test file) of one stored result
ResultRow: TypeAlias = tuple[str, str, float, "str | None", "str | None", int, "str | None"]


def outcome_of(value: str) -> Outcome:
    """A stored outcome as the model's (a run has thousands: no Enum() call each)."""
    found = _OUTCOMES.get(value)
    return found if found is not None else Outcome(value)  # Outcome() says what is wrong


def result_of(
    test_id: str,
    outcome: str,
    duration: float,
    phase: str | None,
    message: str | None,
    attempt: int,
    path: str | None,
) -> TestResult:
    """A stored result row as a model value."""
    return TestResult(
        test_id,
        outcome_of(outcome),
        duration,
        (_PHASES.get(phase) or Phase(phase)) if phase else None,
        message,
        attempt,
        path,
    )


def final_rows(conn: SqlConnection, run_id: int) -> list[ResultRow]:
    """Each test's last attempt in a run (its final outcome), with the test's file, as rows
    (selection reads ten thousand of them and needs no TestResult for each)."""
    # every attempt in order, the last one kept: one pass over the run's rows
    query = (
        "SELECT tests.test_id, results.outcome, results.duration, results.phase, "
        "results.message, results.attempt, tests.path FROM results "
        "JOIN tests ON results.test_pk = tests.id WHERE results.run_id = :run_id "
        "ORDER BY results.test_pk, results.attempt"
    )
    last = {row[0]: row for row in fetch_rows(conn, query, {"run_id": run_id})}
    return list(last.values())


def final_results(conn: SqlConnection, run_id: int) -> list[TestResult]:
    """Each test's last attempt in a run (its final outcome), with the test's file."""
    return [result_of(*row) for row in final_rows(conn, run_id)]


def recent_runs(
    conn: SqlConnection, repository: str, runs_back: int
) -> list[tuple[int, str, str, int]]:
    """The repository's last ``runs_back`` finished runs, newest first: (id, start, status,
    result rows). What is read from them changes only when this does (results are only ever
    added, and each adds to its run's rows), so it keys what is derived from them."""
    params: dict[str, object] = {"repository": repository, "limit": runs_back}
    finished = in_list("status", [RunStatus.COMPLETE.value, RunStatus.INCOMPLETE.value], params)
    query = (
        "SELECT runs.id, runs.started_at, runs.status, runs.result_rows FROM runs "
        "JOIN repositories ON runs.repository_id = repositories.id "
        f"WHERE repositories.name = :repository AND runs.status IN {finished} "
        f"{_NEWEST_FIRST} LIMIT :limit"
    )
    return [(int(i), str(s), str(st), int(n)) for i, s, st, n in fetch_rows(conn, query, params)]


def recent_outcomes(
    conn: SqlConnection, repository: str, runs_back: int = 20
) -> tuple[dict[str, int], dict[str, int]]:
    """Over the repository's last ``runs_back`` finished runs: per test, the runs whose final
    outcome was a failure, and the runs it took part in."""
    recent = [run[0] for run in recent_runs(conn, repository, runs_back)]
    if not recent:
        return {}, {}
    params: dict[str, object] = {}
    runs_in = in_list("run", recent, params)
    # the failed attempts through their own index, then whether each is its run's final one
    failed = (
        "SELECT results.test_pk AS test_pk, count(*) AS n FROM results "
        f"WHERE results.run_id IN {runs_in} AND results.{FAILED_CONDITION} AND {_is_final()} "
        "GROUP BY results.test_pk"
    )
    taken = (
        "SELECT test_pk, count(DISTINCT run_id) AS n FROM results "
        f"WHERE run_id IN {runs_in} GROUP BY test_pk"
    )
    query = (
        "SELECT tests.test_id, coalesce(failed.n, 0), taken.n FROM tests "
        f"JOIN ({taken}) AS taken ON taken.test_pk = tests.id "
        f"LEFT OUTER JOIN ({failed}) AS failed ON failed.test_pk = tests.id"
    )
    failures: dict[str, int] = {}
    runs_taken: dict[str, int] = {}
    for test_id, n_failed, n in fetch_rows(conn, query, params):
        runs_taken[test_id] = int(n)
        if n_failed:
            failures[test_id] = int(n_failed)
    return failures, runs_taken


#: up to this many coverage sets are named in a query; more, and the run's rows are filtered
SETS_IN_A_LIST = 500


def coverage_source(conn: SqlConnection, run_id: int) -> tuple[str, dict[str, object]]:
    """The condition that picks run ``run_id``'s rows of ``coverage``, and its parameters:
    the run's own rows, or those of the run whose coverage it shares (``coverage_share``; of
    a running one, the rows of the tests it has results for)."""
    found = fetch_rows(
        conn, "SELECT coverage_of, status FROM runs WHERE id = :run_id", {"run_id": run_id}
    )
    if not found or found[0][0] is None:
        return "coverage.run_id = :coverage_run", {"coverage_run": run_id}
    owner, status = found[0]
    condition = "coverage.run_id = :coverage_run"
    params: dict[str, object] = {"coverage_run": int(owner)}
    if status == RunStatus.RUNNING.value:
        condition += (
            " AND coverage.test_pk IN (SELECT results.test_pk FROM results "
            "WHERE results.run_id = :coverage_self)"
        )
        params["coverage_self"] = run_id
    return condition, params


def run_coverage(
    conn: SqlConnection, run_id: int, paths: Collection[str] | None = None
) -> list[TestCoverage]:
    """The blocks each test of a run executed (only blocks in ``paths``, when given)."""
    source, base = coverage_source(conn, run_id)
    params = dict(base)
    columns = "tests.test_id, source_blocks.path, source_blocks.name, source_blocks.checksum"
    if paths is None:
        query = (
            f"SELECT {columns} FROM coverage JOIN tests ON coverage.test_pk = tests.id "
            "JOIN coverage_set_blocks ON coverage_set_blocks.set_id = coverage.set_id "
            "JOIN source_blocks ON coverage_set_blocks.block_id = source_blocks.id "
            f"WHERE {source}"
        )
        acc: dict[str, set[Block]] = defaultdict(set)
        for test_id, path, name, checksum in fetch_rows(conn, query, params):
            acc[test_id].add(Block(path, name, checksum))
        return [TestCoverage(t, frozenset(b)) for t, b in sorted(acc.items())]
    if not paths:
        return []
    # from the files' blocks to the sets this run names that hold them (CROSS JOIN: SQLite
    # keeps this order; it would otherwise walk every test of the run and probe its set for
    # each wanted block), each set read once: a set is shared by every test that ran the same
    # blocks, and a release's files are in most of a suite's sets
    query = (
        "SELECT coverage_set_blocks.set_id, source_blocks.path, source_blocks.name, "
        "source_blocks.checksum FROM source_blocks CROSS JOIN coverage_set_blocks "
        f"WHERE source_blocks.path IN {in_list('path', sorted(paths), params)} "
        "AND coverage_set_blocks.block_id = source_blocks.id AND EXISTS (SELECT 1 FROM coverage "
        f"WHERE coverage.set_id = coverage_set_blocks.set_id AND {source})"
    )
    blocks: dict[tuple[str, str, str], Block] = {}
    members: dict[int, set[Block]] = defaultdict(set)
    for set_id, path, name, checksum in fetch_rows(conn, query, params):
        key = (path, name, checksum)
        block = blocks.get(key)
        if block is None:
            block = blocks[key] = Block(path, name, checksum)
        members[set_id].add(block)
    if not members:
        return []
    sets = {set_id: frozenset(b) for set_id, b in members.items()}
    rows_params = dict(base)
    query = (
        "SELECT tests.test_id, coverage.set_id FROM coverage "
        f"JOIN tests ON coverage.test_pk = tests.id WHERE {source}"
    )
    if len(sets) <= SETS_IN_A_LIST:  # a few sets: their rows; many: the run's, filtered here
        query += f" AND coverage.set_id IN {in_list('set', sorted(sets), rows_params)}"
    return [
        TestCoverage(test_id, sets[set_id])
        for test_id, set_id in sorted(fetch_rows(conn, query, rows_params))
        if set_id in sets
    ]


def run_import_coverage(
    conn: SqlConnection, run_id: int, paths: Collection[str] | None = None
) -> dict[str, frozenset[Block]]:
    """What ran while each module was imported before the run's first test, per importing
    module (only blocks in ``paths``, when given)."""
    params: dict[str, object] = {"run_id": run_id}
    query = (
        "SELECT import_coverage.module_path, source_blocks.path, source_blocks.name, "
        "source_blocks.checksum FROM import_coverage "
        "JOIN source_blocks ON import_coverage.block_id = source_blocks.id "
        "WHERE import_coverage.run_id = :run_id"
    )
    if paths is not None:
        if not paths:
            return {}
        query += f" AND source_blocks.path IN {in_list('path', sorted(paths), params)}"
    acc: dict[str, set[Block]] = defaultdict(set)
    for module, path, name, checksum in fetch_rows(conn, query, params):
        acc[module].add(Block(path, name, checksum))
    return {module: frozenset(blocks) for module, blocks in sorted(acc.items())}


def coverage_sizes(conn: SqlConnection, run_id: int) -> dict[str, int]:
    """How many blocks each test of a run executed (tests without coverage are absent)."""
    source, params = coverage_source(conn, run_id)
    query = (
        "SELECT tests.test_id, coverage_sets.blocks FROM coverage "
        "JOIN coverage_sets ON coverage_sets.id = coverage.set_id "
        f"JOIN tests ON tests.id = coverage.test_pk WHERE {source}"
    )
    return dict(fetch_rows(conn, query, params))  # (text, integer) from either driver


def run_file_reads(conn: SqlConnection, run_id: int) -> dict[str, frozenset[str]]:
    """The non-Python files each test of a run read."""
    query = (
        "SELECT tests.test_id, file_reads.path FROM file_reads "
        "JOIN tests ON file_reads.test_pk = tests.id WHERE file_reads.run_id = :run_id"
    )
    acc: dict[str, set[str]] = defaultdict(set)
    for test_id, path in fetch_rows(conn, query, {"run_id": run_id}):
        acc[test_id].add(path)
    return {t: frozenset(p) for t, p in acc.items()}


def latest_ranker(conn: SqlConnection, repository: str) -> tuple[int, datetime, str] | None:
    """The repository's newest learned model: (id, created at, JSON), adopted or not."""
    query = (
        "SELECT rankers.id, rankers.created_at, rankers.model FROM rankers "
        "JOIN repositories ON rankers.repository_id = repositories.id "
        "WHERE repositories.name = :repository "
        "ORDER BY rankers.created_at DESC, rankers.id DESC LIMIT 1"
    )
    rows = fetch_rows(conn, query, {"repository": repository})
    if not rows:
        return None
    ranker_id, created_at, model = rows[0]
    created = as_utc(created_at)
    assert created is not None
    return int(ranker_id), created, str(model)


# -- quarantine and tokens (asked on every request the team server answers) ----------------------


def quarantine_entries(
    conn: SqlConnection, repository: str, test_id: str | None = None
) -> list[QuarantineEntry]:
    """The repository's quarantine entries (optionally one test's), newest first."""
    params: dict[str, object] = {"repository": repository}
    query = (
        "SELECT quarantine.test_id, quarantine.reason, quarantine.owner, quarantine.created_at, "
        "quarantine.expires_at, quarantine.released_at, quarantine.release_reason "
        "FROM quarantine JOIN repositories ON quarantine.repository_id = repositories.id "
        "WHERE repositories.name = :repository"
    )
    if test_id is not None:
        query += " AND quarantine.test_id = :test_id"
        params["test_id"] = test_id
    query += " ORDER BY quarantine.created_at DESC, quarantine.id DESC"
    out = []
    for test, reason, owner, created, expires, released, why in fetch_rows(conn, query, params):
        created_at = as_utc(created)
        assert created_at is not None
        out.append(
            QuarantineEntry(
                test_id=test,
                reason=reason,
                owner=owner,
                created_at=created_at,
                expires_at=as_utc(expires),
                released_at=as_utc(released),
                release_reason=why,
            )
        )
    return out


def token_row(
    conn: SqlConnection, digest: str
) -> tuple[int, str, str, datetime, datetime | None] | None:
    """(id, name, scope, created at, revoked at) of the token with this digest, or None."""
    rows = fetch_rows(
        conn,
        "SELECT id, name, scope, created_at, revoked_at FROM api_tokens WHERE digest = :digest",
        {"digest": digest},
    )
    if not rows:
        return None
    token_id, name, scope, created, revoked = rows[0]
    created_at = as_utc(created)
    assert created_at is not None
    return int(token_id), str(name), str(scope), created_at, as_utc(revoked)
