from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenline.api import Greenline, load_config
from greenline.config import Value
from greenline.errors import InputError, NoDataError, UsageError
from greenline.executor import is_process_alive
from greenline.model import CommitInfo, Outcome, RunStatus, TestResult
from greenline.store import mask_url
from greenline.vcs import read_commit

DATA = Path(__file__).parent.parent / "data" / "junit"


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Iterator[Greenline]:
    with Greenline.open(git_repo, db=database_url) as api:
        yield api


def test_open_names_the_repository_and_keeps_its_store_out_of_git(git_repo: Path) -> None:
    with Greenline.open(git_repo, env={}) as gl:
        assert gl.repository == "repo"
        assert gl.ws.in_git
        assert gl.store.display_url.endswith(".greenline/greenline.db")
        gl.runs.start_run("pytest")
    assert (git_repo / ".greenline" / ".gitignore").read_text().strip().endswith("*")
    assert not read_commit(git_repo).dirty


def test_import_junit_stores_one_complete_run(gl: Greenline, git_repo: Path) -> None:
    run = gl.runs.import_junit([DATA / "pytest_xunit2.xml", DATA / "surefire.xml"])
    assert run.status is RunStatus.COMPLETE
    assert run.source == "junit"
    assert run.commit.branch == "main" and run.commit.sha
    assert run.counts == {
        "passed": 4,
        "failed": 3,
        "error": 2,
        "skipped": 1,
        "xfailed": 1,
    }
    # the run starts when the earliest suite started
    assert run.started_at.isoformat().startswith("2026-11-20T09:15:30")
    results = gl.runs.run_results(run.id)
    assert len([r for r in results if r.test_id == "com.acme.PaymentTest::retriesThenPasses"]) == 3


def test_import_with_explicit_commit(gl: Greenline, git_repo: Path) -> None:
    sha = read_commit(git_repo).sha
    assert sha is not None
    run = gl.runs.import_junit([DATA / "ant.xml"], commit=CommitInfo(sha=sha[:7], branch="release"))
    assert (run.commit.sha, run.commit.branch) == (sha, "release")


def test_a_bad_file_among_good_ones_stores_nothing(gl: Greenline) -> None:
    with pytest.raises(InputError, match=r"malformed\.xml:5"):
        gl.runs.import_junit([DATA / "ant.xml", DATA / "malformed.xml"])
    with pytest.raises(NoDataError):
        gl.runs.test_history("com.acme.CartTest::addsItems")
    assert gl.runs.list_runs() == []


def test_missing_file_is_a_usage_error(gl: Greenline, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        gl.runs.import_junit([tmp_path / "nope.xml"])


def test_the_same_test_twice_in_a_report_becomes_two_attempts(
    gl: Greenline, tmp_path: Path
) -> None:
    shutil.copy(DATA / "ant.xml", tmp_path / "a.xml")
    shutil.copy(DATA / "ant.xml", tmp_path / "b.xml")
    run = gl.runs.import_junit([tmp_path / "a.xml", tmp_path / "b.xml"])
    attempts = [r.attempt for r in gl.runs.run_results(run.id) if r.test_id.endswith("addsItems")]
    assert attempts == [1, 2]


def test_tests_filters(gl: Greenline) -> None:
    run_id = gl.runs.start_run("pytest", commit=CommitInfo(sha="1" * 40, branch="main"))
    gl.runs.add_results(
        run_id,
        [
            TestResult("t::slow", Outcome.PASSED, 9.0),
            TestResult("t::broken", Outcome.FAILED, 0.1),
            TestResult("t::quick", Outcome.PASSED, 0.01),
        ],
    )
    gl.runs.finish_run(run_id, 1, complete=True)
    assert [s.test_id for s in gl.runs.list_tests()] == ["t::broken", "t::quick", "t::slow"]
    assert [s.test_id for s in gl.runs.list_tests(slowest=2)] == ["t::slow", "t::broken"]
    assert [s.test_id for s in gl.runs.list_tests(failing=True)] == ["t::broken"]


def test_unknown_test_suggests_a_close_id(gl: Greenline) -> None:
    run_id = gl.runs.start_run("pytest", with_environment=False)
    gl.runs.add_results(run_id, [TestResult("tests/test_a.py::test_parse", Outcome.PASSED)])
    with pytest.raises(NoDataError) as info:
        gl.runs.test_history("tests/test_a.py::test_pars")
    assert info.value.hint == "did you mean 'tests/test_a.py::test_parse'?"


def test_unknown_run(gl: Greenline) -> None:
    with pytest.raises(NoDataError, match="no run with id 42"):
        gl.runs.get_run(42)


def test_process_liveness() -> None:
    assert is_process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not is_process_alive(child.pid)


def test_config_values_say_where_they_came_from(git_repo: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert load_config(git_repo, db=url, env={})["database_url"] == Value(url, "flag")
    assert load_config(git_repo, env={})["database_url"].source == "default"
    assert not (tmp_path / "x.db").exists(), "reading settings opens no store"


def test_readers_do_not_create_a_store(git_repo: Path) -> None:
    with pytest.raises(NoDataError) as info:
        Greenline.open(git_repo, env={}, create=False)
    assert "no greenline store at" in info.value.message
    assert "greenline record" in (info.value.hint or "")
    assert not (git_repo / ".greenline").exists()
    Greenline.open(git_repo, env={}).close()
    Greenline.open(git_repo, env={}, create=False).close()


def test_urls_are_masked() -> None:
    masked = mask_url("postgresql+psycopg://u:secret@127.0.0.1:5432/db")
    assert masked == "postgresql+psycopg://u:***@127.0.0.1:5432/db"
