"""Selection and JUnit reports against the team server: a CI job's checkout plans against the
baseline a job uploaded (``greenline select --server``, ``pytest --greenline-select
--greenline-server``), the same plan a local store gives, and ``greenline import junit
--server`` stores a report as a run of the job's commit. Real pytest runs, a real server on
loopback serving a clone of the project."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from tests.conftest import git
from tests.servers import free_port, make_token, thread_server

RECORD = ("--greenline-record", "-p", "no:cacheprovider")
DATA = Path(__file__).parent.parent / "data" / "junit"


@pytest.fixture
def uploaded(
    project: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[pytest.Pytester, str]]:
    """The project's baseline uploaded to a server whose repository is a clone of it, and
    recorded locally too (to compare)."""
    (project.path / ".gitignore").write_text("__pycache__/\n.greenline/\n")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "ignore caches")
    clone = tmp_path / "server"
    git(tmp_path, "clone", "-q", str(project.path), str(clone))
    monkeypatch.setenv("GREENLINE_TOKEN", make_token(clone, "write"))
    with thread_server(clone) as url:
        project.runpytest_subprocess(*RECORD, "--greenline-server", url).assert_outcomes(passed=4)
        project.runpytest_subprocess(*RECORD).assert_outcomes(passed=4)
        yield project, url


def greenline(project: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenline", *args],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def edit(project: pytest.Pytester, old: str, new: str, path: str = "app.py") -> None:
    file = project.path / path
    file.write_text(file.read_text().replace(old, new))


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A plan without what differs between two recordings of one commit (run ids, times)."""
    timing = ("baseline_run_id", "selected_duration", "suite_duration")
    kept = {k: v for k, v in doc.items() if k not in timing}
    kept["selected"] = [{k: v for k, v in t.items() if k != "duration"} for t in doc["selected"]]
    return kept


#: POST /api/v1/select comes with the server's REST routes
needs_the_select_route = pytest.mark.skipif(
    importlib.util.find_spec("greenline.web.routes.selection") is None,
    reason="the server has no POST /api/v1/select yet",
)


@needs_the_select_route
def test_select_against_the_server_plans_as_a_local_store_does(
    uploaded: tuple[pytest.Pytester, str],
) -> None:
    project, url = uploaded
    edit(project, "return a * b", "return b * a  # commutative")
    project.makepyfile(test_new="def test_brand_new():\n    assert True\n")
    remote = greenline(project, "select", "--server", url, "-f", "json")
    assert remote.returncode == 0, remote.stderr
    local = greenline(project, "select", "-f", "json")
    doc = json.loads(remote.stdout)
    assert [t["test_id"] for t in doc["selected"]] == ["test_app.py::test_mul"]
    assert doc["new_test_files"] == ["test_new.py"]
    assert comparable(doc) == comparable(json.loads(local.stdout))
    why = greenline(project, "select", "--server", url, "--why", "test_app.py::test_add")
    assert "test_app.py::test_add is not selected" in why.stdout, why.stderr
    git(project.path, "commit", "-q", "-am", "mul: swap operands")
    again = greenline(project, "select", "--server", url, "-f", "ids")
    assert again.stdout.split() == ["test_app.py::test_mul", "test_new.py"], again.stderr


@needs_the_select_route
def test_pytest_selects_against_the_server(uploaded: tuple[pytest.Pytester, str]) -> None:
    project, url = uploaded
    edit(project, "return a + b", "return b + a")
    project.makepyfile(test_new="def test_brand_new():\n    assert True\n")
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--greenline-select=deselect", "--greenline-server", url
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["greenline: 2 of 5 tests can be affected by the change since run 1*"]
    )
    assert (
        "test_app.py::test_add PASSED"
        in project.runpytest_subprocess(
            "-p", "no:cacheprovider", "-v", "--greenline-select=deselect", "--greenline-server", url
        ).stdout.str()
    )


def test_selection_runs_everything_when_the_server_is_down(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENLINE_TOKEN", "glt_unused")
    monkeypatch.setenv("GREENLINE_SERVER_RETRY_SECONDS", "1")
    url = f"http://127.0.0.1:{free_port()}"
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--greenline-select=deselect", "--greenline-server", url
    )
    result.assert_outcomes(passed=4)
    said = [line for line in result.stdout.lines if line.startswith("greenline:")]
    assert len(said) == 1 and said[0].startswith("greenline: running every test: the server at")
    cli = greenline(project, "select", "--server", url, "-f", "json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["full_suite"]["kind"] == "full-suite"
    assert "greenline: running the full suite: the server at" in cli.stderr


def test_junit_reports_go_to_the_server_as_a_run_of_the_jobs_commit(
    uploaded: tuple[pytest.Pytester, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, url = uploaded
    stored = greenline(
        project,
        "import",
        "junit",
        str(DATA / "pytest_xunit2.xml"),
        str(DATA / "ant.xml"),
        "--server",
        url,
        "-f",
        "json",
    )
    assert stored.returncode == 0, stored.stderr
    run = json.loads(stored.stdout)["run"]
    assert run["source"] == "junit" and run["commit"]["sha"] == git(
        project.path, "rev-parse", "HEAD"
    )
    with Greenline.open(project.path) as gl:
        local = gl.runs.import_junit([DATA / "pytest_xunit2.xml", DATA / "ant.xml"])
    assert run["tests"] == local.test_count and run["counts"] == local.counts
    monkeypatch.delenv("GREENLINE_TOKEN")
    refused = greenline(project, "import", "junit", str(DATA / "ant.xml"), "--server", url)
    assert refused.returncode == 4 and "GREENLINE_TOKEN" in refused.stderr
