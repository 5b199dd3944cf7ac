"""``greenline run --shards`` with local processes: every result stored once as one run, a
shard whose process dies is run again, a shard that dies twice is reported and the run left
incomplete, and what the split cannot work with is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greenline.api import Greenline
from tests.cli.conftest import Cli
from tests.conftest import git

DIES = """
import os, pathlib, signal

def test_dies():
    marker = pathlib.Path(os.environ["MARKER_DIR"], "died")
    count = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(count + 1))
    if count < int(os.environ.get("DEATHS", "1")):
        os.kill(os.getpid(), signal.SIGKILL)
"""

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")


@pytest.fixture
def suite(git_repo: Path) -> Path:
    for name in ("test_a.py", "test_b.py", "test_c.py"):
        tests = "\n".join(f"def test_{i}():\n    assert {i} >= 0\n" for i in range(3))
        (git_repo / name).write_text(
            tests + "\n\ndef test_fails():\n    assert False\n" * (name == "test_c.py")
        )
    (git_repo / "pytest.ini").write_text("[pytest]\n")
    (git_repo / ".gitignore").write_text("__pycache__/\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "a suite")
    return git_repo


def results_of(root: Path, run_id: int) -> list[str]:
    with Greenline.open(root, create=False) as gl:
        return [r.test_id for r in gl.runs.run_results(run_id)]


def test_every_result_is_stored_once_in_one_run(cli: Cli, suite: Path) -> None:
    out = cli("run", "--shards", "3", "-f", "json")
    assert out.code == 1, out.err  # test_c.py::test_fails fails
    doc = out.json()
    assert doc["schema"] == "greenline.sharded_run/1" and doc["collected"] == 10
    ids = results_of(suite, doc["run"]["id"])
    assert len(ids) == 10 and len(set(ids)) == 10
    assert doc["run"]["status"] == "complete" and doc["run"]["counts"] == {"failed": 1, "passed": 9}
    assert [s["attempts"] for s in doc["shards"]] == [1, 1, 1]
    # the next split has durations to go by: the run is history
    plan = cli("split", "-n", "3", "-i", "0", "-f", "json").json()
    assert plan["baseline_run_id"] == doc["run"]["id"] and not plan["estimated"]


def test_pytest_arguments_narrow_what_is_split(cli: Cli, suite: Path) -> None:
    out = cli("run", "--shards", "2", "-f", "json", "--", "test_a.py", "-k", "not test_2")
    assert out.code == 0, out.err
    assert sorted(results_of(suite, out.json()["run"]["id"])) == [
        "test_a.py::test_0",
        "test_a.py::test_1",
    ]


def test_a_shard_whose_process_dies_runs_again(
    cli: Cli, suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (suite / "test_dies.py").write_text(DIES)
    monkeypatch.setenv("MARKER_DIR", str(tmp_path))
    out = cli("run", "--shards", "2", "-f", "json")
    doc = out.json()
    assert sorted(s["attempts"] for s in doc["shards"]) == [1, 2]
    ids = results_of(suite, doc["run"]["id"])
    assert len(ids) == 11 and len(set(ids)) == 11
    assert doc["run"]["status"] == "complete"


def test_a_shard_that_dies_twice_is_reported(
    cli: Cli, suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (suite / "test_c.py").write_text("def test_ok():\n    pass\n")
    (suite / "test_dies.py").write_text(DIES)
    monkeypatch.setenv("MARKER_DIR", str(tmp_path))
    monkeypatch.setenv("DEATHS", "2")
    out = cli("run", "--shards", "2")
    assert out.code == 3
    assert "was lost after 2 attempts (killed by signal 9)" in out.err
    with Greenline.open(suite, create=False) as gl:
        run = gl.runs.list_runs(limit=1)[0]
    assert run.status.value == "incomplete"
    assert len(set(results_of(suite, run.id))) == len(results_of(suite, run.id))
    assert (tmp_path / "died").read_text() == "2"


def test_what_the_split_cannot_work_with_is_refused(cli: Cli, suite: Path) -> None:
    out = cli("run", "--shards", "2", "--", "--greenline-record")
    assert out.code == 4 and "--greenline-record cannot be passed" in out.err
    missing = cli("run", "--", "-x")
    assert missing.code == 4 and "--shards N is needed" in missing.err
    broken = cli("run", "--shards", "2", "--", "no_such_dir/")
    assert broken.code == 4 and "collecting the tests failed" in broken.err


def test_run_show_still_works_beside_it(cli: Cli, suite: Path) -> None:
    run_id = cli("run", "--shards", "2", "-f", "json").json()["run"]["id"]
    shown = cli("run", "show", str(run_id), "-f", "json")
    assert shown.code == 0 and shown.json()["run"]["id"] == run_id
    assert os.environ.get("GREENLINE_EXECUTOR") is None
