"""Runs that record the same coverage as an earlier run share its rows instead of storing their
own (``store.coverage_share``), on SQLite and PostgreSQL: what every reader returns is the
coverage each run recorded, whether it shares, stops sharing mid-run, ends with fewer tests,
is still running, or outlives the run it shared with."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.model import Block, CommitInfo, Environment, Outcome, TestResult
from greenline.store import reads, writes
from greenline.store.schema import coverage, runs
from tests.conftest import git

BLOCKS = [Block(f"pkg/m{i % 4}.py", f"f{i}", f"c{i}") for i in range(30)]
#: 60 tests, each running a slice of the blocks (several tests share a set)
SUITE = {f"tests/test_m.py::test_{i}": BLOCKS[i % 12 : i % 12 + 6] for i in range(60)}
ENV = Environment("cpython-3.12.1", "linux-x86_64", "p1")
START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Any:
    with Greenline.open(git_repo, db=database_url) as opened:
        yield opened


def record(
    gl: Greenline,
    suite: Mapping[str, Sequence[Block]],
    *,
    batch: int = 25,
    finish: bool = True,
    environment: Environment = ENV,
    minutes: int = 0,
) -> int:
    """A run of ``suite`` (test -> blocks; no blocks: the test ran none), stored in batches
    the way the plugin's writer stores them."""
    commit = CommitInfo(sha=git(gl.ws.root, "rev-parse", "HEAD"), branch="main")
    run_id = gl.runs.start_run(
        "pytest",
        commit=commit,
        environment=environment,
        started_at=START + timedelta(minutes=minutes),
    )
    tests = list(suite)
    for start in range(0, len(tests), batch):
        part = tests[start : start + batch]
        results = [TestResult(t, Outcome.PASSED, 0.01, path="tests/test_m.py") for t in part]
        gl.runs.add_results(run_id, results, {t: list(suite[t]) for t in part if suite[t]})
    if finish:
        gl.runs.finish_run(run_id, 0, complete=True)
    return run_id


def stored(gl: Greenline, run_id: int) -> dict[str, frozenset[Block]]:
    with gl.store.read() as conn:
        return {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run_id)}


def shared_with(gl: Greenline, run_id: int) -> int | None:
    with gl.store.read() as conn:
        return conn.execute(sa.select(runs.c.coverage_of).where(runs.c.id == run_id)).scalar()


def own_rows(gl: Greenline, run_id: int) -> int:
    with gl.store.read() as conn:
        query = sa.select(sa.func.count()).where(coverage.c.run_id == run_id)
        return int(conn.execute(query).scalar() or 0)


def expected(suite: Mapping[str, Sequence[Block]]) -> dict[str, frozenset[Block]]:
    return {t: frozenset(b) for t, b in suite.items() if b}


def test_a_run_with_the_same_coverage_stores_none_and_reads_the_same(gl: Greenline) -> None:
    first = record(gl, SUITE)
    second = record(gl, SUITE, minutes=1)
    third = record(gl, SUITE, minutes=2)
    assert own_rows(gl, first) == 60
    assert (own_rows(gl, second), own_rows(gl, third)) == (0, 0)
    # the third names the run that holds the rows, not the one that shares them
    assert shared_with(gl, second) == first and shared_with(gl, third) == first
    for run in (second, third):
        assert stored(gl, run) == expected(SUITE)
        with gl.store.read() as conn:
            changed = reads.run_coverage(conn, run, {"pkg/m1.py"})
            sizes = reads.coverage_sizes(conn, run)
            info = reads.get_run(conn, run)
        assert {tc.test_id for tc in changed} == {
            t for t, b in SUITE.items() if any(x.path == "pkg/m1.py" for x in b)
        }
        assert sizes == dict.fromkeys(SUITE, 6)
        assert info is not None and info.has_coverage


def test_a_run_that_differs_midway_gets_its_own_rows_for_every_test(gl: Greenline) -> None:
    first = record(gl, SUITE)
    changed = dict(SUITE)
    changed["tests/test_m.py::test_40"] = BLOCKS[20:30]  # the second of three batches
    changed["tests/test_m.py::test_59"] = []  # ran no block this time
    changed["tests/test_m.py::test_new"] = BLOCKS[:2]  # a test the first run never had
    second = record(gl, changed, minutes=1)
    assert shared_with(gl, second) is None
    assert own_rows(gl, second) == 60  # 61 tests, one of them with no blocks
    assert stored(gl, second) == expected(changed)
    assert stored(gl, first) == expected(SUITE)


def test_a_run_of_fewer_tests_ends_with_its_own_rows(gl: Greenline) -> None:
    record(gl, SUITE)
    subset = {t: SUITE[t] for t in list(SUITE)[:10]}
    second = record(gl, subset, minutes=1)
    assert shared_with(gl, second) is None
    assert stored(gl, second) == expected(subset)


def test_a_test_with_no_blocks_in_a_batch_of_its_own_ends_sharing(gl: Greenline) -> None:
    record(gl, SUITE)
    changed = dict(SUITE)
    changed["tests/test_m.py::test_59"] = []  # alone in the last batch (60 = 59 + 1)
    second = record(gl, changed, minutes=1, batch=59)
    assert shared_with(gl, second) is None
    assert stored(gl, second) == expected(changed)


def test_a_running_run_that_shares_shows_only_the_tests_it_ran(gl: Greenline) -> None:
    first = record(gl, SUITE)
    half = {t: SUITE[t] for t in list(SUITE)[:30]}
    running = record(gl, half, finish=False, minutes=1)
    assert shared_with(gl, running) == first
    assert stored(gl, running) == expected(half)
    with gl.store.read() as conn:
        assert set(reads.coverage_sizes(conn, running)) == set(half)
    # left incomplete with half the suite: it keeps what it ran, in rows of its own
    gl.runs.finish_run(running, 2, complete=False)
    assert shared_with(gl, running) is None
    assert stored(gl, running) == expected(half)


def test_a_retried_test_joins_its_blocks_to_the_shared_ones(gl: Greenline) -> None:
    record(gl, SUITE)
    run_id = record(gl, SUITE, finish=False, minutes=1)
    retry = "tests/test_m.py::test_3"
    gl.runs.add_results(
        run_id,
        [TestResult(retry, Outcome.PASSED, 0.01, attempt=2, path="tests/test_m.py")],
        {retry: [BLOCKS[29]]},
    )
    gl.runs.finish_run(run_id, 0, complete=True)
    assert shared_with(gl, run_id) is None
    want = expected(SUITE)
    want[retry] = want[retry] | {BLOCKS[29]}
    assert stored(gl, run_id) == want


def test_another_environment_does_not_share(gl: Greenline) -> None:
    record(gl, SUITE)
    other = record(gl, SUITE, environment=Environment("cpython-3.13.0", "linux-x86_64", "p1"))
    assert shared_with(gl, other) is None and own_rows(gl, other) == 60


def test_a_prune_of_the_run_that_holds_the_rows_hands_them_on(gl: Greenline) -> None:
    first = record(gl, SUITE)
    second = record(gl, SUITE, minutes=1)
    third = record(gl, SUITE, minutes=2)
    running = record(gl, dict(list(SUITE.items())[:20]), finish=False, minutes=3)
    assert {shared_with(gl, r) for r in (second, third, running)} == {first}
    when = START + timedelta(days=1)
    # its rows are handed on, not deleted: a dry run counts none of them
    assert "coverage" not in gl.housekeeping.prune(keep=3, now=when, dry_run=True).rows
    report = gl.housekeeping.prune(keep=3, now=when)
    assert report.run_ids == (first,) and "coverage" not in report.rows
    # the newest finished run holds the rows now; the other finished one shares them from it
    assert own_rows(gl, third) == 60 and shared_with(gl, third) is None
    assert shared_with(gl, second) == third
    # the running one got rows of its own for what it ran, and goes on storing its batches
    assert shared_with(gl, running) is None and own_rows(gl, running) == 20
    rest = dict(list(SUITE.items())[20:])
    results = [TestResult(t, Outcome.PASSED, 0.01, path="tests/test_m.py") for t in rest]
    gl.runs.add_results(running, results, {t: list(b) for t, b in rest.items()})
    gl.runs.finish_run(running, 0, complete=True)
    for run in (second, third, running):
        assert stored(gl, run) == expected(SUITE)
    # and when the one holding the rows goes too, the last one keeps them
    gl.housekeeping.prune(keep=1, now=START + timedelta(days=1))
    with gl.store.read() as conn:
        left = sorted(conn.execute(sa.select(runs.c.id)).scalars())
    assert left == [running]
    assert stored(gl, running) == expected(SUITE)


def test_a_prune_waits_for_a_run_that_is_taking_its_owner(gl: Greenline, database_url: str) -> None:
    """A batch that picks a run as its owner and a prune deleting that run, at once: the prune
    waits for the batch, then hands the rows on (PostgreSQL: the owner's row is locked; SQLite:
    writers take turns)."""
    owner = record(gl, SUITE)
    # the branch's newest baseline, in another environment: the prune keeps it, the batch
    # below does not pick it
    record(gl, SUITE, environment=Environment("cpython-3.13.0", "linux-x86_64", "p1"), minutes=1)
    commit = CommitInfo(sha=git(gl.ws.root, "rev-parse", "HEAD"), branch="main")
    running = gl.runs.start_run(
        "pytest", commit=commit, environment=ENV, started_at=START + timedelta(minutes=2)
    )
    part = list(SUITE)[:25]
    results = [TestResult(t, Outcome.PASSED, 0.01, path="tests/test_m.py") for t in part]
    pruned: list[tuple[int, ...]] = []

    def prune() -> None:
        with Greenline.open(gl.ws.root, db=database_url) as other:
            pruned.append(other.housekeeping.prune(keep=1, now=START + timedelta(days=1)).run_ids)

    pruning = threading.Thread(target=prune)
    with gl.store.write() as conn:
        repo_id = writes.ensure_repository(conn, gl.ws.repository, None)
        history = writes.BatchHistory()
        pks = writes.insert_results(conn, running, repo_id, results, history=history)
        writes.insert_coverage(conn, running, repo_id, {t: SUITE[t] for t in part}, pks, history)
        pruning.start()
        time.sleep(1.0)
        assert pruning.is_alive(), "the prune waits for the batch"
    pruning.join(timeout=60)
    assert pruned == [(owner,)]
    assert shared_with(gl, running) is None and own_rows(gl, running) == 25
    assert stored(gl, running) == expected({t: SUITE[t] for t in part})
