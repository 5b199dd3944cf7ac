"""Recording under xdist, when killed, and with two recorders writing one SQLite store at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.model import RunStatus
from tests.plugin.conftest import coverage_of, run_and_results

MANY_TESTS = """
import time
import pytest
import app

@pytest.mark.parametrize("i", range({n}))
def test_many(i):
    time.sleep({sleep})
    assert app.add(i, 1) == i + 1
"""


def pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def test_xdist_records_every_result_once(project: pytest.Pytester) -> None:
    project.makepyfile(test_many=MANY_TESTS.format(n=60, sleep=0))
    project.runpytest_subprocess("--greenline-record").assert_outcomes(passed=64)
    serial, serial_results = run_and_results(project.path)
    project.runpytest_subprocess("--greenline-record", "-n", "2").assert_outcomes(passed=64)
    parallel, parallel_results = run_and_results(project.path)
    assert parallel.id != serial.id
    assert len(parallel_results) == 64
    assert len({r.test_id for r in parallel_results}) == 64
    assert {r.test_id for r in parallel_results} == {r.test_id for r in serial_results}
    serial_cov = {t: c.blocks for t, c in coverage_of(project.path, serial.id).items()}
    parallel_cov = {t: c.blocks for t, c in coverage_of(project.path, parallel.id).items()}
    assert parallel_cov == serial_cov
    assert parallel.status is RunStatus.COMPLETE


def test_a_run_killed_midway_stays_incomplete(project: pytest.Pytester) -> None:
    # the recorder sends a batch every 500 results (or 2 s, checked as tests end): with 1,204
    # results before the waiting test, at least 705 are stored whatever the timing
    project.makepyfile(test_many=MANY_TESTS.format(n=1200, sleep=0))
    flag = project.path / "release"
    project.makepyfile(
        test_zz_wait=f"""
        import os, time

        def test_wait():
            deadline = time.monotonic() + 600
            while not os.path.exists({str(flag)!r}) and time.monotonic() < deadline:
                time.sleep(0.05)
        """
    )
    proc = subprocess.Popen(
        pytest_cmd("--greenline-record"),
        cwd=project.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = project.path / ".greenline" / "greenline.db"
    try:
        deadline = time.monotonic() + 600  # generous: a loaded machine is slow, not wrong
        stored = 0
        while stored < 500 and time.monotonic() < deadline:
            time.sleep(0.1)
            if db.exists():
                with sqlite3.connect(db, timeout=30) as conn:
                    try:
                        stored = conn.execute("SELECT count(*) FROM results").fetchone()[0]
                    except sqlite3.OperationalError:
                        stored = 0
        assert stored >= 500, "the recorder flushes results while the run goes on"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Greenline.open(project.path) as gl:
        (run,) = gl.runs.list_runs()
        assert run.status is RunStatus.INCOMPLETE
        assert run.test_count >= 500
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    flag.write_text("go")
    project.runpytest_subprocess("--greenline-record").assert_outcomes(passed=1205)
    latest, results = run_and_results(project.path)
    assert latest.status is RunStatus.COMPLETE
    assert len(results) == 1205


def test_two_recorders_share_one_sqlite_store(project: pytest.Pytester, tmp_path: Path) -> None:
    project.makepyfile(test_many=MANY_TESTS.format(n=300, sleep=0.01))
    db = tmp_path / "shared.db"
    url = f"sqlite:///{db}"
    procs = [
        subprocess.Popen(
            pytest_cmd("--greenline-record", "--greenline-db", url, *extra),
            cwd=project.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for extra in ([], ["-n", "2"])
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with Greenline.open(project.path, db=url) as gl:
        runs = gl.runs.list_runs()
        assert len(runs) == 2
        for run in runs:
            assert run.status is RunStatus.COMPLETE
            assert run.counts == {"passed": 304}
            results = gl.runs.run_results(run.id)
            assert len({r.test_id for r in results}) == len(results) == 304
        coverages = [coverage_of_url(project.path, url, r.id) for r in runs]
    assert coverages[0] == coverages[1]
    assert len(coverages[0]) == 304


def coverage_of_url(root: Path, url: str, run_id: int) -> dict[str, frozenset[object]]:
    from greenline.store import reads

    with Greenline.open(root, db=url) as gl, gl.store.read() as conn:
        return {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run_id)}
