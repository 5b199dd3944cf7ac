"""``pytest --greenline-record --greenline-server URL``: real pytest runs (pytester) upload to a
real server (uvicorn on loopback): the stored run equals a local recording, a server that is
down or killed never fails the tests, a server killed mid-upload and started again loses
nothing, and neither pytest nor the writer loads the database layer."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from greenline.api import Greenline
from greenline.model import RunStatus, TestResult
from greenline.store import reads
from tests.conftest import init_repo
from tests.servers import ProcessServer, free_port, make_token, thread_server

LOCAL = ("--greenline-record", "-p", "no:cacheprovider")

MORE_TESTS = """
import pathlib

import pytest

import app


def test_reads_data():
    assert pathlib.Path("data.txt").read_text() == "42\\n"


def test_fails():
    assert app.add(2, 2) == 5


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known")
def test_xfails():
    assert app.mul(1, 1) == 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_many(n):
    assert app.add(n, 0) == n
"""


@pytest.fixture
def server_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "server"
    repo.mkdir()
    init_repo(repo)
    return repo


@pytest.fixture
def served(server_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GREENLINE_TOKEN", make_token(server_repo, "write"))
    with thread_server(server_repo) as url:
        yield url


def comparable(root: Path, run_id: int) -> tuple[object, ...]:
    """What a recording stored: results, coverage, file reads, commit and environment."""
    with Greenline.open(root) as gl, gl.store.read() as conn:
        run = gl.runs.get_run(run_id)
        results = sorted(
            (r.test_id, r.outcome, r.phase, r.message, r.attempt, r.path)
            for r in gl.runs.run_results(run_id)
        )
        blocks = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run_id)}
        files = reads.run_file_reads(conn, run_id)
        imported = reads.run_import_coverage(conn, run_id)
    commit = (run.commit.sha, run.commit.branch, run.commit.dirty, run.commit.subject)
    shape = (run.status, run.source, run.counts, run.exit_status, run.has_coverage)
    return results, blocks, files, imported, commit, run.environment, shape


def test_an_uploaded_run_equals_a_local_recording(
    project: pytest.Pytester, server_repo: Path, served: str
) -> None:
    project.makepyfile(test_more=MORE_TESTS)
    (project.path / "data.txt").write_text("42\n")
    init_repo(project.path)  # commit the new files too
    local = project.runpytest_subprocess(*LOCAL)
    local.assert_outcomes(passed=8, failed=1, skipped=1, xfailed=1)
    uploaded = project.runpytest_subprocess(*LOCAL, "--greenline-server", served)
    uploaded.assert_outcomes(passed=8, failed=1, skipped=1, xfailed=1)
    uploaded.stdout.fnmatch_lines(
        [f"greenline: recorded run 1: 11 results into the server at {served}"]
    )
    with Greenline.open(project.path) as gl:
        local_run = gl.runs.list_runs(limit=1)[0].id
    assert comparable(server_repo, 1) == comparable(project.path, local_run)
    results, blocks, files, *_ = comparable(server_repo, 1)
    assert (
        len(results) == 11
        and blocks
        and files == {"test_more.py::test_reads_data": frozenset({"data.txt"})}
    )
    assert os.environ["GREENLINE_TOKEN"] not in uploaded.stdout.str() + uploaded.stderr.str()


def test_a_server_that_is_down_never_fails_the_tests(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENLINE_TOKEN", "glt_not-checked-by-anyone")
    monkeypatch.setenv("GREENLINE_SERVER_RETRY_SECONDS", "1")
    url = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    result = project.runpytest_subprocess(*LOCAL, "--greenline-server", url)
    assert result.ret == 0
    result.assert_outcomes(passed=4)
    assert time.monotonic() - began < 30
    said = [line for line in result.stdout.lines if line.startswith("greenline: nothing recorded")]
    assert len(said) == 1 and f"the server at {url} did not answer" in said[0], result.stdout
    assert "glt_not-checked" not in result.stdout.str()


def test_a_token_is_needed_and_never_shown(
    project: pytest.Pytester, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GREENLINE_TOKEN")
    missing = project.runpytest_subprocess(*LOCAL, "--greenline-server", served)
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*--greenline-server needs an API token in GREENLINE_TOKEN*"])
    monkeypatch.setenv("GREENLINE_TOKEN", "glt_wrong-secret-value")
    wrong = project.runpytest_subprocess(*LOCAL, "--greenline-server", served)
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    output = wrong.stdout.str() + wrong.stderr.str()
    assert "refused POST /uploads (401)" in output and "wrong-secret-value" not in output
    both = project.runpytest_subprocess(
        *LOCAL, "--greenline-server", served, "--greenline-db", "sqlite:///x.db"
    )
    assert both.ret == pytest.ExitCode.USAGE_ERROR


SLOW_SUITE = """
import time

import pytest


@pytest.mark.parametrize("n", range(36))
def test_slowly(n):
    time.sleep(0.15)
"""


def _batches_stored(server_repo: Path) -> int:
    path = server_repo / ".greenline" / "greenline.db"
    with sqlite3.connect(path, timeout=10) as conn:
        return int(conn.execute("select count(*) from upload_batches").fetchone()[0])


def _record_in_background(project: pytest.Pytester, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *LOCAL, "--greenline-server", url, "test_slow.py"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_batches(server_repo: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while _batches_stored(server_repo) < 1:
        assert proc.poll() is None and time.monotonic() < deadline, "no batch arrived"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_server_killed_mid_upload_gets_the_lost_batch_again(
    project: pytest.Pytester, server_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_slow=SLOW_SUITE)
    monkeypatch.setenv("GREENLINE_TOKEN", make_token(server_repo, "write"))
    server = ProcessServer(server_repo)
    server.start()
    try:
        proc = _record_in_background(project, server.url)
        _wait_for_batches(server_repo, proc)
        server.kill()  # SIGKILL: no shutdown, an answer may be lost on the way
        time.sleep(1.0)
        server.start()  # the same port; the writer is still trying the batch it had
        out, _ = proc.communicate(timeout=120)
    finally:
        server.stop()
    assert proc.returncode == 0, out
    assert "greenline: recorded run 1: 36 results" in out, out
    with Greenline.open(server_repo) as gl:
        run = gl.runs.get_run(1)
        results: list[TestResult] = gl.runs.run_results(1)
    assert run.status is RunStatus.COMPLETE and run.counts == {"passed": 36}
    assert len(results) == len({r.test_id for r in results}) == 36
    assert _batches_stored(server_repo) >= 2


@pytest.mark.slow
def test_a_server_that_stays_down_leaves_the_run_incomplete(
    project: pytest.Pytester, server_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_slow=SLOW_SUITE)
    token = make_token(server_repo, "write")
    monkeypatch.setenv("GREENLINE_TOKEN", token)
    monkeypatch.setenv("GREENLINE_SERVER_RETRY_SECONDS", "2")
    server = ProcessServer(server_repo)
    server.start()
    try:
        proc = _record_in_background(project, server.url)
        _wait_for_batches(server_repo, proc)
        server.kill()
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        said = [line for line in out.splitlines() if line.startswith("greenline: recording failed")]
        assert len(said) == 1 and said[0].startswith(
            "greenline: recording failed, run 1 left incomplete: the server at"
        ), out
        server.start()
        run = httpx.get(
            f"{server.url}/api/v1/runs/1", headers={"Authorization": f"Bearer {token}"}
        ).json()["run"]
    finally:
        server.stop()
    assert run["status"] != "complete" and 0 < run["tests"] < 36, "only what arrived, unfinished"


def test_neither_pytest_nor_the_writer_loads_the_database_layer(
    project: pytest.Pytester, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In server mode the writer needs httpx, not SQLAlchemy: a CI job's tests get both cores."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    seen = tmp_path / "seen"
    seen.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import atexit, os, sys\n"
        "def _note():\n"
        "    heavy = [m for m in ('sqlalchemy', 'alembic', 'greenline.api') if m in sys.modules]\n"
        f"    path = os.path.join({str(seen)!r}, str(os.getpid()))\n"
        "    open(path, 'w').write(' '.join(sys.argv[:3]) + '|' + (','.join(heavy) or 'none'))\n"
        "atexit.register(_note)\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])
    )
    project.runpytest_subprocess(*LOCAL, "--greenline-server", served).assert_outcomes(passed=4)
    notes = [p.read_text() for p in seen.iterdir()]
    assert any("pytest_plugin/writer.py" in n for n in notes), notes
    assert all(n.endswith("|none") for n in notes), notes
