"""The server keeps the JSON of its read routes while the store is unchanged: the store's data
version moves with every commit (by anyone: this process, another connection, another
process), a kept answer is never served after a write, and the token is checked on every
request, kept answer or not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from greenline.api import Greenline
from greenline.model import Outcome, TestResult
from greenline.store import Store
from tests.integration.web import TEST_ADD, Team, team_server


def test_the_data_version_moves_with_every_commit_and_only_then(
    git_repo: Path, database_url: str
) -> None:
    with Greenline.open(git_repo, db=database_url) as gl:
        first = gl.store.data_version()
        assert first is not None
        gl.runs.list_runs()
        gl.flaky.listing()
        if gl.store.dialect == "sqlite":
            # reads commit nothing (on PostgreSQL the snapshot is the whole server's: other
            # tests' writes to other databases move it too, which only costs a kept answer)
            assert gl.store.data_version() == first
        run = gl.runs.start_run("pytest")
        after_write = gl.store.data_version()
        assert after_write != first  # a write through this store's own connections
        with Store(database_url) as other, other.write() as conn:  # another connection
            conn.exec_driver_sql(f"UPDATE runs SET hostname = 'elsewhere' WHERE id = {run}")
        assert gl.store.data_version() != after_write
        seen = gl.store.data_version()
        # another process
        code = (
            "import sys; from greenline.store import Store\n"
            "with Store(sys.argv[1]) as s, s.write() as c:\n"
            f"    c.exec_driver_sql(\"UPDATE runs SET hostname = 'child' WHERE id = {run}\")\n"
        )
        subprocess.run([sys.executable, "-c", code, database_url], check=True)
        assert gl.store.data_version() != seen


def _runs(team: Team) -> list[int]:
    response = team.call("GET", "/api/v1/runs?limit=50")
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["runs"]]


def test_a_kept_answer_is_never_served_after_a_write(git_repo: Path, database_url: str) -> None:
    with team_server(git_repo, database_url) as team:
        before = _runs(team)
        assert _runs(team) == before  # the same answer, kept
        first = team.call("GET", "/api/v1/tests?limit=50").json()
        # a write by another connection (a CI job's upload goes through the api the same way)
        with Greenline.open(git_repo, db=database_url) as gl:
            run = gl.runs.start_run("pytest")
            gl.runs.add_results(run, [TestResult(TEST_ADD, Outcome.FAILED, 0.3)])
            gl.runs.finish_run(run, 1, complete=True)
        assert _runs(team) == [run, *before]
        listed = team.call("GET", "/api/v1/tests?limit=50").json()["tests"]
        tests = {t["test_id"]: t for t in listed}
        assert tests != {t["test_id"]: t for t in first["tests"]}
        assert tests[TEST_ADD]["last_outcome"] == "failed"
        # a write through the server itself
        response = team.call(
            "POST",
            "/api/v1/quarantine",
            scope="write",
            json={"test_id": TEST_ADD, "reason": "flaky on CI"},
        )
        assert response.status_code == 201, response.text
        listed = team.call("GET", "/api/v1/quarantine").json()["tests"]
        assert [q["test_id"] for q in listed] == [TEST_ADD]
        assert team.call("DELETE", f"/api/v1/quarantine/{TEST_ADD}", scope="write").is_success
        assert team.call("GET", "/api/v1/quarantine").json()["tests"] == []


def test_a_revoked_token_cannot_read_a_kept_answer(git_repo: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'team.db'}"
    with team_server(git_repo, db) as team:
        assert team.call("GET", "/api/v1/runs").status_code == 200
        assert team.call("GET", "/api/v1/runs").status_code == 200
        with Greenline.open(git_repo, db=db) as gl:
            assert gl.tokens.revoke("test-read")
        response = team.call("GET", "/api/v1/runs")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "auth"
