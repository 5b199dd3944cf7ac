"""Recording when things go wrong around it: a store locked by another writer, Ctrl-C, a
password on the command line, a test id no store should keep. The tests always run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.ids import MAX_TEST_ID_CHARS
from greenline.model import RunStatus
from tests.plugin.conftest import run_and_results

RECORD = ("--greenline-record", "-p", "no:cacheprovider")


@contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another writer in the middle of a long transaction on the SQLite store."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_store_runs_the_tests_unrecorded(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    Greenline.open(project.path).close()  # the store exists and is at head
    monkeypatch.setenv("GREENLINE_STORE_BUSY_TIMEOUT", "0.5")  # 30 s by default
    with write_lock_held(project.path / ".greenline" / "greenline.db"):
        result = project.runpytest_subprocess(*RECORD)
    assert result.ret == 0
    result.assert_outcomes(passed=4)
    warnings = [line for line in result.stdout.lines if line.startswith("greenline: nothing")]
    assert len(warnings) == 1
    assert "is locked by another writer" in warnings[0]
    with Greenline.open(project.path) as gl:
        assert gl.runs.list_runs() == []
    project.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)  # unlocked: recorded again
    run, results = run_and_results(project.path)
    assert run.status is RunStatus.COMPLETE and len(results) == 4


def test_a_wrong_store_still_stops_before_the_first_test(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*RECORD, "--greenline-db", "nosuchdb://x/y")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "passed" not in result.stdout.str()


def test_ctrl_c_keeps_every_result_pytest_reported(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_zz_interrupt="""
        import os, signal, time

        def test_a():
            pass

        def test_b():
            pass

        def test_stop():
            os.killpg(0, signal.SIGINT)  # as a terminal does: the whole foreground group
            time.sleep(60)
        """
    )
    # a session of its own, so the interrupt reaches pytest and its writer and nothing else;
    # Ctrl-C's default handler put back first (a job started in the background of a
    # non-interactive shell inherits SIGINT ignored)
    restore = (
        "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.exit(pytest.main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", restore, *RECORD],
        cwd=project.path,
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, proc.stdout
    assert "stopped unexpectedly" not in proc.stdout
    assert "greenline: recorded run 1: 6 results" in proc.stdout
    run, results = run_and_results(project.path)
    assert run.status is RunStatus.INCOMPLETE and run.exit_status == 2
    assert sorted(r.test_id for r in results) == [
        "test_app.py::test_add",
        "test_app.py::test_greet",
        "test_app.py::test_mul",
        "test_app.py::test_nothing",
        "test_zz_interrupt.py::test_a",
        "test_zz_interrupt.py::test_b",
    ]


def test_a_test_id_over_the_cap_runs_but_is_not_recorded(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_long=f"""
        import pytest

        @pytest.mark.parametrize("x", [1], ids=["x" * {MAX_TEST_ID_CHARS}])
        def test_long(x):
            pass
        """
    )
    result = project.runpytest_subprocess(*RECORD)
    assert result.ret == 0
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            f"greenline: 1 test results not recorded: a test id of * longer than the cap of "
            f"{MAX_TEST_ID_CHARS}",
            "greenline: recorded run 1: 4 results *",
        ]
    )
    run, results = run_and_results(project.path)
    assert run.status is RunStatus.COMPLETE and len(results) == 4


@pytest.mark.parametrize("joined", [True, False], ids=["--greenline-db=URL", "--greenline-db URL"])
def test_a_password_on_the_command_line_is_never_stored(
    project: pytest.Pytester, postgres_schema_url: str, joined: bool
) -> None:
    # trust authentication accepts any password: the point is where it ends up
    url = postgres_schema_url.replace("://postgres@", "://postgres:hunter2@")
    assert "hunter2" in url
    args = [f"--greenline-db={url}"] if joined else ["--greenline-db", url]
    result = project.runpytest_subprocess(*RECORD, *args)
    result.assert_outcomes(passed=4)
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    engine = sa.create_engine(postgres_schema_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT args FROM runs")).scalar_one()
    finally:
        engine.dispose()
    assert "hunter2" not in stored
    assert "postgres:***@127.0.0.1" in stored
