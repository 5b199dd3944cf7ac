"""Writing runs, results and coverage; idempotent upserts that are safe for concurrent writers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Executable, Table, func, select, update

from greenline.config import mask_args
from greenline.ids import clip_message
from greenline.model import Block, CommitInfo, Environment, QuarantineEntry, RunStatus, TestResult
from greenline.store import coverage_share
from greenline.store.checks import check_results
from greenline.store.coverage_share import BatchHistory as BatchHistory
from greenline.store.schema import (
    branches,
    commits,
    coverage,
    coverage_sets,
    environments,
    file_reads,
    flaky_scans,
    import_coverage,
    merge_queues,
    metadata,
    quarantine,
    rankers,
    repositories,
    results,
    runs,
    selection_features,
    source_blocks,
    tests,
    uploads,
)
from greenline.store.summaries import fold_results, lookup_chunk, member_of

CHUNK = 400


def to_utc(value: datetime | None) -> datetime | None:
    """Every stored timestamp is UTC: SQLite keeps no offset, so one must not be needed."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert_ignoring_conflicts(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement: Executable
    arrays = _pg_arrays(conn, table, rows)
    if arrays is not None:  # one statement of arrays, not a statement per row
        names, types, columns = arrays
        casts = ", ".join(f"%s::{kind}[]" for kind in types)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})"
        conn.exec_driver_sql(sql + " ON CONFLICT DO NOTHING", columns)
        return
    if conn.dialect.name == "postgresql":  # each dialect module is imported only when used
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing()
    conn.execute(statement, rows)


def _pg_arrays(
    conn: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[list[str], list[str], tuple[list[Any], ...]] | None:
    """On PostgreSQL through psycopg, rows of numbers and text as one array per column (their
    names, element types and values); None when another path must store them."""
    if driver_placeholder(conn) != "%s":
        return None
    names = list(rows[0])
    types = []
    for name in names:
        try:
            python = table.c[name].type.python_type
        except NotImplementedError:
            return None
        if python not in (int, str):
            return None
        types.append("bigint" if python is int else "text")
    columns = tuple([row.get(name) for row in rows] for name in names)
    plain = (int, str, type(None))
    if any(set(row) != set(names) for row in rows) or not all(
        isinstance(v, plain) for column in columns for v in column
    ):
        return None
    return names, types, columns


def ensure_keyed(
    conn: Connection, table: Table, keys: list[str], rows: list[dict[str, Any]]
) -> dict[tuple[Any, ...], int]:
    """Insert rows whose key columns are new; return the id of every row, by its key tuple.

    The rows there already are looked up first and only the others inserted: a suite recorded
    again (the same tests, mostly the same blocks) costs one read per chunk, no write."""
    ids: dict[tuple[Any, ...], int] = {}
    key_cols = [table.c[k] for k in keys]
    for chunk in _chunks(rows, lookup_chunk(conn)):
        wanted = [tuple(row[k] for k in keys) for row in chunk]
        ids.update(_look_up(conn, table, key_cols, wanted))
        missing = [row for row, key in zip(chunk, wanted, strict=True) if key not in ids]
        if missing:
            _insert_ignoring_conflicts(conn, table, missing)
            ids.update(_look_up(conn, table, key_cols, [k for k in wanted if k not in ids]))
    return ids


def _look_up(
    conn: Connection, table: Table, key_cols: list[Any], wanted: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], int]:
    """The ids of the rows with these keys (those that exist), found with a plain IN on the
    last key column (the leading ones the keys share as equalities): a row IN of whole key
    tuples costs far more to build and run. Rows of other keys that match are dropped."""
    if not wanted:
        return {}
    shared = 0
    while shared < len(key_cols) - 1 and all(k[shared] == wanted[0][shared] for k in wanted):
        shared += 1
    last = list({key[-1] for key in wanted})
    mark = driver_placeholder(conn)
    if mark is not None and all(isinstance(v, str | int) for v in (*wanted[0], *last)):
        # plain text and numbers: straight to the driver, skipping the compilation of an IN
        # of hundreds of expanding parameters (a fifth of storing a batch of known tests)
        names = ", ".join(c.name for c in key_cols)
        where = [f"{key_cols[i].name} = {mark}" for i in range(shared)]
        among, values = member_of(conn, last)
        where.append(f"{key_cols[-1].name} {among}")
        sql = f"SELECT id, {names} FROM {table.name} WHERE {' AND '.join(where)}"
        rows: Iterable[Any] = conn.exec_driver_sql(sql, (*wanted[0][:shared], *values))
    else:
        rows = conn.execute(
            select(table.c.id, *key_cols).where(
                *(key_cols[i] == wanted[0][i] for i in range(shared)), key_cols[-1].in_(last)
            )
        )
    keys = set(wanted)
    out = {}
    for row in rows:
        key = tuple(row[1:])
        if key in keys:
            out[key] = row[0]
    return out


#: the drivers whose executemany takes plain tuples with these placeholders
_PLACEHOLDERS = {("sqlite", "pysqlite"): "?", ("postgresql", "psycopg"): "%s"}


def driver_placeholder(conn: Connection) -> str | None:
    """The positional placeholder of the connection's driver, when greenline hands it plain
    rows itself (SQLite's sqlite3, PostgreSQL's psycopg); None: go through SQLAlchemy Core."""
    return _PLACEHOLDERS.get((conn.dialect.name, conn.dialect.driver))


def ensure_repository(conn: Connection, name: str, root: str | None) -> int:
    ids = ensure_keyed(
        conn,
        repositories,
        ["name"],
        [{"name": name, "root": root, "created_at": datetime.now(UTC)}],
    )
    repo_id = ids[(name,)]
    if root:
        conn.execute(update(repositories).where(repositories.c.id == repo_id).values(root=root))
    return repo_id


def ensure_commit(conn: Connection, repo_id: int, commit: CommitInfo) -> int | None:
    if not commit.sha:
        return None
    row = {
        "repository_id": repo_id,
        "sha": commit.sha,
        "committed_at": to_utc(commit.committed_at),
        "subject": commit.subject,
    }
    return ensure_keyed(conn, commits, ["repository_id", "sha"], [row])[(repo_id, commit.sha)]


def ensure_branch(conn: Connection, repo_id: int, name: str | None) -> int | None:
    if not name:
        return None
    row = {"repository_id": repo_id, "name": name}
    return ensure_keyed(conn, branches, ["repository_id", "name"], [row])[(repo_id, name)]


def ensure_environment(conn: Connection, env: Environment | None) -> int | None:
    if env is None:
        return None
    row = {
        "python": env.python,
        "platform": env.platform,
        "packages_hash": env.packages_hash,
        "fingerprint": env.fingerprint,
    }
    return ensure_keyed(conn, environments, ["fingerprint"], [row])[(env.fingerprint,)]


def insert_run(
    conn: Connection,
    *,
    repo_id: int,
    commit: CommitInfo,
    environment: Environment | None,
    source: str,
    started_at: datetime,
    status: RunStatus = RunStatus.RUNNING,
    hostname: str | None = None,
    pid: int | None = None,
    args: str | None = None,
) -> int:
    """A new run row; returns its id."""
    values = {
        "repository_id": repo_id,
        "commit_id": ensure_commit(conn, repo_id, commit),
        "branch_id": ensure_branch(conn, repo_id, commit.branch),
        "environment_id": ensure_environment(conn, environment),
        "dirty": commit.dirty,
        "status": status.value,
        "source": source,
        "started_at": to_utc(started_at),
        "hostname": hostname,
        "pid": pid,
        "args": mask_args(args),  # a URL on a command line may carry a password
        "has_coverage": False,
    }
    key = conn.execute(runs.insert().values(values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def ensure_tests(conn: Connection, repo_id: int, paths: Mapping[str, str | None]) -> dict[str, int]:
    """Test rows for the given test ids (id -> file path); returns test id -> primary key."""
    # in key order, like the blocks: concurrent writers of one suite then take the new rows'
    # locks in the same order (on PostgreSQL, in any other they can deadlock)
    rows = [{"repository_id": repo_id, "test_id": t, "path": p} for t, p in sorted(paths.items())]
    ids = ensure_keyed(conn, tests, ["repository_id", "test_id"], rows)
    return {test_id: pk for (_repo, test_id), pk in ids.items()}


def insert_results(
    conn: Connection,
    run_id: int,
    repo_id: int,
    batch: Sequence[TestResult],
    *,
    renumber: bool = False,
    history: BatchHistory | None = None,
) -> dict[str, int]:
    """Store a batch of results (with their test rows); returns the tests' primary keys.

    With ``renumber``, a test id met again in the same run (a report listing a retried test
    twice) continues its attempt numbers instead of colliding with them. ``history`` is
    filled with what the run held before the batch (what ``insert_coverage`` compares).
    """
    if not batch:
        return {}
    check_results(batch)
    pks = ensure_tests(conn, repo_id, {r.test_id: r.path for r in batch})
    attempts = [r.attempt for r in batch]
    if renumber:
        attempts = _renumber_attempts(conn, run_id, [(pks[r.test_id], r.attempt) for r in batch])
    rows = [
        {
            "run_id": run_id,
            "test_pk": pks[r.test_id],
            "outcome": r.outcome.value,
            "duration": float(r.duration),
            "phase": r.phase.value if r.phase else None,
            "message": clip_message(r.message),
            "attempt": attempt,
        }
        for r, attempt in zip(batch, attempts, strict=True)
    ]
    earlier, repeated = fold_results(
        conn, run_id, repo_id, rows, {pk: test_id for test_id, pk in pks.items()}
    )
    if history is not None:
        history.earlier_rows, history.repeated = earlier, repeated
    mark = driver_placeholder(conn)
    if mark is None:
        for chunk in _chunks(rows):
            conn.execute(results.insert(), list(chunk))
        return pks
    # plain values (numbers and text, checked above) as tuples to the driver's executemany:
    # SQLAlchemy's processing of each row's parameters was half the cost of storing a batch
    into = f"INSERT INTO results ({', '.join(_RESULT_COLUMNS)}) "
    values = [tuple(row[c] for c in _RESULT_COLUMNS) for row in rows]
    for part in _chunks(values, 5000):
        if conn.dialect.name == "postgresql":
            # one statement of arrays: psycopg's executemany sends a statement per row
            columns = tuple(list(column) for column in zip(*part, strict=True))
            conn.exec_driver_sql(into + _PG_RESULT_ARRAYS, columns)
        else:
            conn.exec_driver_sql(into + f"VALUES ({', '.join([mark] * 7)})", list(part))
    return pks


_RESULT_COLUMNS = ("run_id", "test_pk", "outcome", "duration", "phase", "message", "attempt")
_PG_RESULT_ARRAYS = (
    "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::text[], %s::double precision[], "
    "%s::text[], %s::text[], %s::integer[])"
)


def _renumber_attempts(conn: Connection, run_id: int, keys: list[tuple[int, int]]) -> list[int]:
    query = (
        select(results.c.test_pk, func.max(results.c.attempt))
        .where(results.c.run_id == run_id, results.c.test_pk.in_({pk for pk, _ in keys}))
        .group_by(results.c.test_pk)
    )
    highest: dict[int, int] = {row[0]: row[1] for row in conn.execute(query)}
    offsets: dict[int, int] = {}
    out = []
    for pk, attempt in keys:
        if attempt == 1:
            offsets[pk] = highest.get(pk, 0)
        number = offsets.get(pk, 0) + attempt
        highest[pk] = max(highest.get(pk, 0), number)
        out.append(number)
    return out


def set_run_started(conn: Connection, run_id: int, started_at: datetime) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(started_at=to_utc(started_at)))


def insert_coverage(
    conn: Connection,
    run_id: int,
    repo_id: int,
    batch: Mapping[str, Iterable[Block]],
    test_pks: Mapping[str, int] | None = None,
    history: BatchHistory | None = None,
) -> None:
    """Store the blocks each test of a batch executed (``test_pks``: primary keys of tests
    known already, as ``insert_results`` returns them): per test, the set of its blocks, stored
    once for the repository however many runs ran exactly these blocks. Blocks of a test given
    again in the same run (a later batch, a retry) join the ones stored.

    Given the batch's ``history`` (``insert_results`` fills it) and the keys of all its
    results, a run whose coverage is the same as an earlier run's stores none of its own: see
    ``coverage_share``. A test with results in the batch and none of ``batch``'s blocks ran
    none."""
    per_test = {t: set(blocks) for t, blocks in batch.items()}
    per_test = {t: blocks for t, blocks in per_test.items() if blocks}
    state = conn.execute(
        select(runs.c.coverage_of, runs.c.has_coverage).where(runs.c.id == run_id)
    ).one()
    if not per_test and state.coverage_of is None:
        return
    known = test_pks or {}
    pks = {**known, **ensure_tests(conn, repo_id, {t: None for t in per_test if t not in known})}
    unique = {b for blocks in per_test.values() for b in blocks}
    block_rows = [
        {"repository_id": repo_id, "path": b.path, "name": b.name, "checksum": b.checksum}
        for b in sorted(unique, key=_key)
    ]
    block_ids = ensure_keyed(
        conn, source_blocks, ["repository_id", "path", "name", "checksum"], block_rows
    )
    ids = {b: block_ids[(repo_id, b.path, b.name, b.checksum)] for b in unique}
    members = {pks[t]: {ids[b] for b in blocks} for t, blocks in per_test.items()}
    digests = {pk: set_digest(sorted(blocks)) for pk, blocks in members.items()}
    owner = state.coverage_of
    # only tests with results in the batch can share: a reader finds a shared run's tests
    # by their results
    with_results = set(members) <= set(known.values())
    fresh_run = history is not None and history.earlier_rows == 0 and not state.has_coverage
    if owner is None and fresh_run and with_results and members:
        owner = coverage_share.pick_owner(conn, run_id)
        if owner is not None:
            coverage_share.start_sharing(conn, run_id, owner)
    if owner is not None:
        tests = set(known.values()) | set(members)
        if (
            history is not None
            and with_results
            and coverage_share.agrees(
                conn, owner, tests, _stored_set_ids(conn, repo_id, digests), history
            )
        ):
            return
        # it differs: from here on the run's coverage is its own rows
        repeated = history.repeated if history is not None else set(tests)
        coverage_share.stop_sharing(conn, run_id, owner, tests - repeated)
    conn.execute(update(runs).where(runs.c.id == run_id).values(has_coverage=True))
    if not members:
        return
    before = coverage_share.sets_in_run(conn, run_id, sorted(members))
    if before:  # the run has coverage of some of these tests: theirs now holds both
        stored = _set_members(conn, sorted(set(before.values())))
        for pk, set_id in before.items():
            members[pk] |= stored.get(set_id, set())
        _delete_coverage(conn, run_id, sorted(before))
        digests = {pk: set_digest(sorted(blocks)) for pk, blocks in members.items()}
    sizes = {digests[pk]: len(blocks) for pk, blocks in members.items()}
    blocks_of = {digests[pk]: blocks for pk, blocks in members.items()}
    set_ids = _ensure_sets(conn, repo_id, sizes, blocks_of)
    rows = [(run_id, pk, set_ids[digests[pk]]) for pk in sorted(members)]
    insert_id_rows(conn, "coverage", ("run_id", "test_pk", "set_id"), rows)


def _stored_set_ids(
    conn: Connection, repo_id: int, digests: Mapping[int, str]
) -> dict[int, int | None]:
    """Per test, the id of its set of blocks (by digest) when the set is stored, else None."""
    key = [coverage_sets.c.repository_id, coverage_sets.c.digest]
    wanted = sorted({(repo_id, d) for d in digests.values()})
    found = {k[1]: v for k, v in _look_up(conn, coverage_sets, key, wanted).items()}
    return {pk: found.get(d) for pk, d in digests.items()}


def set_digest(block_ids: Sequence[int]) -> str:
    """The name of a set of blocks: the sha256 of its sorted ids."""
    return hashlib.sha256(",".join(map(str, sorted(block_ids))).encode()).hexdigest()


def _set_members(conn: Connection, set_ids: Sequence[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    size = lookup_chunk(conn)
    for start in range(0, len(set_ids), size):
        among, values = member_of(conn, list(set_ids[start : start + size]))
        sql = f"SELECT set_id, block_id FROM coverage_set_blocks WHERE set_id {among}"
        for set_id, block_id in conn.exec_driver_sql(sql, values):
            out.setdefault(int(set_id), set()).add(int(block_id))
    return out


def _delete_coverage(conn: Connection, run_id: int, pks: Sequence[int]) -> None:
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        conn.execute(
            coverage.delete().where(coverage.c.run_id == run_id, coverage.c.test_pk.in_(chunk))
        )


def _ensure_sets(
    conn: Connection, repo_id: int, sizes: Mapping[str, int], blocks_of: Mapping[str, set[int]]
) -> dict[str, int]:
    """The id of each set (by digest); a set not stored before is stored with its blocks by
    the writer whose insert made it (another writer's, committed first, is found)."""
    key = [coverage_sets.c.repository_id, coverage_sets.c.digest]
    wanted = [(repo_id, digest) for digest in sorted(sizes)]
    found = {k[1]: v for k, v in _look_up(conn, coverage_sets, key, wanted).items()}
    missing = [digest for digest in sorted(sizes) if digest not in found]
    made: dict[str, int] = {}
    for start in range(0, len(missing), 300):
        rows = [
            {"repository_id": repo_id, "digest": d, "blocks": sizes[d]}
            for d in missing[start : start + 300]
        ]
        statement = _insert_or_skip(conn, coverage_sets).values(rows)
        returned = conn.execute(statement.returning(coverage_sets.c.id, coverage_sets.c.digest))
        made.update((str(digest), int(set_id)) for set_id, digest in returned)
    pairs = [(made[d], b) for d in sorted(made) for b in sorted(blocks_of[d])]
    insert_id_rows(conn, "coverage_set_blocks", ("set_id", "block_id"), pairs)
    rest = [(repo_id, d) for d in missing if d not in made]
    found.update({k[1]: v for k, v in _look_up(conn, coverage_sets, key, rest).items()})
    return {**found, **made}


def _insert_or_skip(conn: Connection, table: Table) -> Any:
    """An INSERT of ``table`` that skips a row whose key is taken."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def insert_id_rows(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[tuple[int, ...]]
) -> None:
    """Rows of ids, skipping a row stored before. Coverage is the one write with tens of
    thousands of rows per run: they go to the driver as plain tuples (SQLite's executemany) or
    one array per column (PostgreSQL: psycopg's executemany sends a statement per row)."""
    if not rows:
        return
    names = ", ".join(columns)
    mark = driver_placeholder(conn)
    for chunk in _chunks(rows, 5000):
        if mark is None:
            _insert_ignoring_conflicts(
                conn, metadata.tables[table], [dict(zip(columns, r, strict=True)) for r in chunk]
            )
        elif conn.dialect.name == "postgresql":
            arrays = ", ".join(["%s::integer[]"] * len(columns))
            sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) "
            conn.exec_driver_sql(
                sql + "ON CONFLICT DO NOTHING", tuple(list(c) for c in zip(*chunk, strict=True))
            )
        else:
            marks = ", ".join([mark] * len(columns))
            conn.exec_driver_sql(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", chunk)


def insert_import_coverage(
    conn: Connection, run_id: int, repo_id: int, modules: Mapping[str, Iterable[Block]]
) -> None:
    """Store what ran while each module was imported before the run's first test."""
    unique = {b for blocks in modules.values() for b in blocks}
    if not unique:
        return
    block_rows = [
        {"repository_id": repo_id, "path": b.path, "name": b.name, "checksum": b.checksum}
        for b in sorted(unique, key=_key)
    ]
    block_ids = ensure_keyed(
        conn, source_blocks, ["repository_id", "path", "name", "checksum"], block_rows
    )
    rows = [
        {"run_id": run_id, "module_path": module, "block_id": block_ids[(repo_id, *_key(b))]}
        for module, blocks in modules.items()
        for b in set(blocks)
    ]
    for chunk in _chunks(rows):
        _insert_ignoring_conflicts(conn, import_coverage, list(chunk))


def insert_file_reads(
    conn: Connection, run_id: int, repo_id: int, batch: Mapping[str, Iterable[str]]
) -> None:
    """Store the non-Python files each test of a batch read."""
    if not batch:
        return
    pks = ensure_tests(conn, repo_id, dict.fromkeys(batch))
    rows = [
        {"run_id": run_id, "test_pk": pks[test_id], "path": path}
        for test_id, paths in batch.items()
        for path in set(paths)
    ]
    for chunk in _chunks(rows):
        _insert_ignoring_conflicts(conn, file_reads, list(chunk))


def insert_selection_features(
    conn: Connection,
    run_id: int,
    repo_id: int,
    rows: Sequence[tuple[str, str | None, float, Sequence[float]]],
) -> None:
    """Store the affected tests of a run's change: (test id, path, likelihood, features)."""
    if not rows:
        return
    pks = ensure_tests(conn, repo_id, {test_id: path for test_id, path, _, _ in rows})
    values = [
        {
            "run_id": run_id,
            "test_pk": pks[test_id],
            "likelihood": likelihood,
            "features": json.dumps([round(x, 6) for x in features]),
        }
        for test_id, _, likelihood, features in rows
    ]
    for chunk in _chunks(values):
        _insert_ignoring_conflicts(conn, selection_features, list(chunk))


def insert_ranker(
    conn: Connection, repo_id: int, doc: Mapping[str, Any], created_at: datetime
) -> int:
    result = conn.execute(
        rankers.insert().values(
            repository_id=repo_id,
            created_at=created_at,
            examples=int(doc["examples"]),
            failing=int(doc["failing"]),
            adopted=bool(doc["adopted"]),
            model=json.dumps(doc),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _key(block: Block) -> tuple[str, str, str]:
    return (block.path, block.name, block.checksum)


def finish_run(
    conn: Connection,
    run_id: int,
    status: RunStatus,
    exit_status: int | None = None,
    finished_at: datetime | None = None,
) -> None:
    coverage_share.settle(conn, [run_id])
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            status=status.value,
            finished_at=to_utc(finished_at) or datetime.now(UTC),
            exit_status=exit_status,
        )
    )


def mark_dead_runs_incomplete(
    conn: Connection, hostname: str, is_alive: Callable[[int], bool]
) -> int:
    """Runs left ``running`` on this host by a process that is gone become ``incomplete``.
    Uploaded runs are not judged here: their process runs on a CI machine, whatever its host's
    name (an upload that falls silent is left incomplete by the upload service instead)."""
    query = select(runs.c.id, runs.c.pid).where(
        runs.c.status == RunStatus.RUNNING.value,
        runs.c.hostname == hostname,
        runs.c.id.not_in(select(uploads.c.run_id)),
    )
    dead = [row.id for row in conn.execute(query) if row.pid is None or not is_alive(row.pid)]
    if dead:
        coverage_share.settle(conn, dead)
        conn.execute(
            update(runs).where(runs.c.id.in_(dead)).values(status=RunStatus.INCOMPLETE.value)
        )
    return len(dead)


def insert_quarantine(conn: Connection, repo_id: int, entry: QuarantineEntry) -> None:
    conn.execute(
        quarantine.insert().values(
            repository_id=repo_id,
            test_id=entry.test_id,
            reason=entry.reason,
            owner=entry.owner,
            created_at=entry.created_at,
            expires_at=entry.expires_at,
        )
    )


def release_quarantine(
    conn: Connection, repo_id: int, test_id: str, when: datetime, reason: str
) -> int:
    """Release the test's open quarantine entries; returns how many there were."""
    result = conn.execute(
        quarantine.update()
        .where(
            quarantine.c.repository_id == repo_id,
            quarantine.c.test_id == test_id,
            quarantine.c.released_at.is_(None),
        )
        .values(released_at=when, release_reason=reason)
    )
    return int(result.rowcount or 0)


def insert_flaky_scan(
    conn: Connection,
    repo_id: int,
    commit: CommitInfo,
    started_at: datetime,
    trials: int,
    seconds: float,
    report: str,
) -> int:
    result = conn.execute(
        flaky_scans.insert().values(
            repository_id=repo_id,
            sha=commit.sha,
            dirty=commit.dirty,
            started_at=to_utc(started_at),
            trials=trials,
            seconds=seconds,
            report=report,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def save_merge_queue(
    conn: Connection, repo_id: int, document: str, version: int, now: datetime
) -> bool:
    """Store the queue's document if nobody stored another since ``version`` was read (0: none
    yet); False when someone did (read it again and redo the step)."""
    if version == 0:
        exists = conn.execute(
            select(merge_queues.c.version).where(merge_queues.c.repository_id == repo_id)
        ).first()
        if exists is not None:
            return False
        conn.execute(
            merge_queues.insert().values(
                repository_id=repo_id, version=1, updated_at=to_utc(now), document=document
            )
        )
        return True
    result = conn.execute(
        merge_queues.update()
        .where(merge_queues.c.repository_id == repo_id, merge_queues.c.version == version)
        .values(version=version + 1, updated_at=to_utc(now), document=document)
    )
    return result.rowcount == 1
