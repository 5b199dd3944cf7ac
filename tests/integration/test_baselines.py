"""Baseline files from anywhere (a CI cache artifact): every field is checked before a byte of
it is stored, a commit must be a full id of a commit in this repository, and size is capped."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from greenline import baselines
from greenline.api import Greenline
from greenline.errors import InputError, UsageError
from greenline.ids import MAX_TEST_ID_CHARS
from greenline.model import Block, CommitInfo, Outcome, Run, RunStatus, TestResult
from greenline.store import writes
from tests.conftest import git


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Iterator[Greenline]:
    with Greenline.open(git_repo, db=database_url) as api:
        yield api


@pytest.fixture
def exported(gl: Greenline, tmp_path: Path) -> dict[str, Any]:
    """The JSON document of a real export: a complete run with coverage at HEAD."""
    run_id = gl.runs.start_run("pytest", args="-q")
    blocks = [Block("app.py", "add", "c1"), Block("app.py", "mul", "c2")]
    results = [TestResult("test_app.py::test_add", Outcome.PASSED, 0.01)]
    results.append(TestResult("test_app.py::test_mul", Outcome.PASSED, 0.02))
    gl.runs.add_results(
        run_id,
        results,
        {"test_app.py::test_add": [blocks[0]], "test_app.py::test_mul": [blocks[1]]},
    )
    gl.runs.finish_run(run_id, 0, complete=True)
    path = tmp_path / "exported.json.gz"
    gl.baselines.export(path, run_id)
    doc: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return doc


def import_doc(gl: Greenline, tmp_path: Path, doc: dict[str, Any]) -> Run:
    path = tmp_path / "artifact.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    run, new = gl.baselines.import_file(path)
    assert new
    return run


Edit = Callable[[dict[str, Any]], None]


def _set_sha(value: str) -> Edit:
    return lambda doc: doc["commit"].update(sha=value)


def _set_result(field: int, value: object) -> Edit:
    return lambda doc: doc["results"][0].__setitem__(field, value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set_sha("HEAD"), "'HEAD' is not a full commit id"),
        (_set_sha("main"), "'main' is not a full commit id"),
        (_set_sha("abc123"), "not a full commit id"),
        (lambda doc: doc["coverage"].update({"test_app.py::test_add": [-1]}), "-1 is not a whole"),
        (lambda doc: doc["coverage"].update({"test_app.py::test_add": [7]}), "block index 7"),
        (lambda doc: doc["coverage"].update({"test_app.py::test_add": [0.5]}), "0.5 is not"),
        (_set_result(2, -1.0), "duration -1.0 is not a finite"),
        (_set_result(2, float("inf")), "duration inf is not a finite"),
        (_set_result(2, float("nan")), "duration nan is not a finite"),
        (_set_result(2, "0.1"), "duration '0.1' is not"),
        (_set_result(5, 0), "results[0]: 0 is not a whole number of at least 1"),
        (_set_result(5, True), "True is not a whole number"),
        (_set_result(0, {"not": "an id"}), "expected a string"),
        (
            _set_result(0, "t" * (MAX_TEST_ID_CHARS + 1)),
            f"longer than the cap of {MAX_TEST_ID_CHARS}",
        ),
        (lambda doc: doc["commit"].update(dirty="yes"), "commit.dirty"),
    ],
)
def test_a_tampered_baseline_is_refused_and_stores_nothing(
    gl: Greenline, exported: dict[str, Any], tmp_path: Path, edit: Edit, message: str
) -> None:
    before = gl.runs.list_runs()
    edit(exported)
    with pytest.raises(InputError, match="malformed baseline file") as info:
        import_doc(gl, tmp_path, exported)
    assert message in info.value.message
    assert info.value.hint and "baseline export" in info.value.hint
    assert gl.runs.list_runs() == before


def test_a_commit_that_is_not_in_the_repository_is_refused(
    gl: Greenline, exported: dict[str, Any], tmp_path: Path
) -> None:
    before = gl.runs.list_runs()
    exported["commit"]["sha"] = "0123456789" * 4  # well formed, but no commit here
    with pytest.raises(UsageError, match="commit 012345678901 is not in the repository") as info:
        import_doc(gl, tmp_path, exported)
    assert info.value.hint and "git fetch origin" in info.value.hint
    assert gl.runs.list_runs() == before


def test_an_intact_baseline_from_this_history_is_imported(
    gl: Greenline, exported: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    (git_repo / "later.txt").write_text("a later commit\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "later")
    exported["started_at"] = "2020-01-01T00:00:00+00:00"  # another run than the exported one
    exported["args"] = "-q --greenline-db=postgresql://ci:hunter2@db/greenline"
    run = import_doc(gl, tmp_path, exported)
    assert run.source == "baseline" and run.status is RunStatus.COMPLETE
    assert run.commit.sha == exported["commit"]["sha"] and run.counts == {"passed": 2}
    assert run.args == "-q --greenline-db=postgresql://ci:***@db/greenline"


def test_a_stored_ref_never_serves_as_a_baseline(gl: Greenline) -> None:
    """A store poisoned before refs were refused: the run at "HEAD" must not be judged as the
    current commit (selection would see no change and run nothing)."""
    with gl.store.write() as conn:
        repo_id = writes.ensure_repository(conn, gl.repository, str(gl.ws.root))
        run_id = writes.insert_run(
            conn,
            repo_id=repo_id,
            commit=CommitInfo(sha="HEAD", branch="main"),
            environment=None,
            source="baseline",
            started_at=datetime.now(UTC),
        )
        block = Block("app.py", "add", "c1")
        writes.insert_results(conn, run_id, repo_id, [TestResult("t::a", Outcome.PASSED, 0.1)])
        writes.insert_coverage(conn, run_id, repo_id, {"t::a": [block]})
        writes.finish_run(conn, run_id, RunStatus.COMPLETE)
    with pytest.raises(Exception, match="no baseline"):
        gl.selection.find_baseline()


def test_a_decompression_bomb_is_refused_at_the_cap(
    gl: Greenline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real cap is 128 MiB; a lowered one shows the stream stops past it, cheaply
    monkeypatch.setattr(baselines, "MAX_BASELINE_BYTES", 1 << 20, raising=False)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as out:
        for _ in range(8):
            out.write(b" " * (1 << 20))  # whitespace: valid JSON padding, so only the cap stops it
        out.write(b'{"schema": "greenline.baseline/1"}')
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(InputError, match=r"expands to more than 1048576 bytes, the cap"):
        gl.baselines.import_file(bomb)
    assert gl.runs.list_runs() == []
