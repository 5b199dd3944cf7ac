"""The team server's REST routes for selection, baselines, the merge queue and delivery metrics,
over a real socket against a real store (SQLite and PostgreSQL): each answer is the document the
CLI prints for the same store, bad requests get one error shape and change nothing."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from greenline.model import Outcome, TestResult
from tests.conftest import git
from tests.integration.web import (
    TEST_ADD,
    TEST_MUL,
    Team,
    branch,
    error_of,
    record_baseline,
    team_server,
)

GITHUB = Path(__file__).parent.parent / "data" / "github"


@pytest.fixture
def team(git_repo: Path, database_url: str) -> Iterator[Team]:
    with team_server(git_repo, database_url) as served:
        yield served


def object_count(repo: Path) -> str:
    return git(repo, "count-objects", "-v")


# -- selection ------------------------------------------------------------------------------
def test_select_from_a_diff_is_the_cli_plan_and_writes_nothing(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = team.repo
    base = git(repo, "rev-parse", "HEAD")
    (repo / "app.py").write_text((repo / "app.py").read_text().replace("a * b", "b * a"))
    diff = git(repo, "diff", "HEAD")  # without its last newline, as a shell variable has it
    cli_doc = team.cli_json(capsys, "select", "-f", "json")
    status, objects = git(repo, "status", "--porcelain"), object_count(repo)

    answer = team.call("POST", "/api/v1/select", json={"base": base, "diff": diff})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc == cli_doc
    assert [(t["test_id"], t["reasons"]) for t in doc["selected"]] == [
        (TEST_MUL, [{"kind": "changed-block", "detail": "app.py::mul"}])
    ]
    assert doc["unaffected"] == 1 and doc["base"] == base
    assert git(repo, "status", "--porcelain") == status, "the work tree and index are as they were"
    assert object_count(repo) == objects, "no object was written to the repository"

    budgeted = team.call(
        "POST", "/api/v1/select", json={"base": "main", "diff": diff, "budget": "1%"}
    ).json()
    assert budgeted == team.cli_json(capsys, "select", "-f", "json", "--budget", "1%")
    assert [t["test_id"] for t in budgeted["selected"]] == [TEST_MUL], "never nothing"


def test_select_from_changed_paths_and_against_an_ancestors_baseline(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = team.repo
    base = git(repo, "rev-parse", "HEAD")
    paths = team.call(
        "POST",
        "/api/v1/select",
        json={"base": base, "changed_files": ["app.py", "tests/test_x.py"]},
    ).json()
    reasons = {t["test_id"]: {r["detail"] for r in t["reasons"]} for t in paths["selected"]}
    assert reasons == {
        TEST_ADD: {"app.py::<module>", "app.py::add"},
        TEST_MUL: {"app.py::<module>", "app.py::mul"},
    }, "a path whose content is not given: every block the baseline ran in it counts"
    assert paths["new_test_files"] == ["tests/test_x.py"]

    (repo / "app.py").write_text((repo / "app.py").read_text().replace("a + b", "b + a"))
    git(repo, "commit", "-q", "-am", "add the other way round")
    later = team.call("POST", "/api/v1/select", json={"base": "main"}).json()
    assert later == team.cli_json(capsys, "select", "-f", "json")
    assert later["base"] == base, "the newest baseline on the base's history"
    assert [t["test_id"] for t in later["selected"]] == [TEST_ADD]


def test_a_plan_asked_again_is_kept_until_the_history_it_read_changes(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = team.repo
    base = git(repo, "rev-parse", "HEAD")
    (repo / "app.py").write_text((repo / "app.py").read_text().replace("a * b", "b * a"))
    body = {"base": base, "diff": git(repo, "diff", "HEAD")}
    first = team.call("POST", "/api/v1/select", json=body).json()
    assert team.call("POST", "/api/v1/select", json=body).json() == first
    ranked = {t["test_id"]: t["likelihood"] for t in first["selected"]}

    with Greenline.open(repo, db=team.db) as gl:  # the test the change reaches fails now
        run_id = gl.runs.start_run("pytest")
        gl.runs.add_results(run_id, [TestResult(TEST_MUL, Outcome.FAILED, 0.2)])
        gl.runs.finish_run(run_id, 1, complete=True)
    after_failure = team.call("POST", "/api/v1/select", json=body).json()
    assert after_failure == team.cli_json(capsys, "select", "-f", "json")
    assert {t["test_id"]: t["likelihood"] for t in after_failure["selected"]} != ranked

    changed = (repo / "app.py").read_text()
    git(repo, "checkout", "app.py")
    with Greenline.open(repo, db=team.db) as gl:  # and a newer baseline is judged against
        newer = record_baseline(gl, repo)
    (repo / "app.py").write_text(changed)
    again = team.call("POST", "/api/v1/select", json=body).json()
    assert again["baseline_run_id"] == newer != first["baseline_run_id"]
    assert again == team.cli_json(capsys, "select", "-f", "json")
    other = {**body, "diff": body["diff"].replace("b * a", "a * b * 1")}
    planned = team.call("POST", "/api/v1/select", json=other).json()
    assert [t["test_id"] for t in planned["selected"]] == [TEST_MUL]


def test_select_refuses_bad_requests_with_one_error_shape(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenline.web.routes import selection

    base = git(team.repo, "rev-parse", "HEAD")
    first = git(team.repo, "rev-list", "--max-parents=0", "HEAD")

    def refused(body: Any, status: int, code: str, words: str) -> None:
        sent = {"json": body} if isinstance(body, dict) else {"content": body}
        answer = team.call("POST", "/api/v1/select", **sent)
        assert answer.status_code == status, answer.text
        error = error_of(answer)
        assert error["code"] == code and words in error["message"], error
        assert error["hint"]

    refused(
        {"base": base, "diff": "--- a/nope\n+++ b/nope\n@@ -1 +1 @@\n-x\n+y\n"},
        400,
        "vcs",
        "the diff does not apply",
    )
    refused({"base": "no-such-rev"}, 400, "vcs", "unknown revision 'no-such-rev'")
    refused({"base": "-rf"}, 400, "vcs", "unknown revision")
    refused({"base": base, "diff": "", "changed_files": []}, 400, "usage", "not both")
    refused({"base": base, "changed_files": ["../etc/passwd"]}, 400, "usage", "not a path")
    refused({"base": base, "extra": 1}, 400, "usage", "extra")
    refused({}, 400, "usage", "base")
    refused(b"{not json", 400, "usage", "JSON")
    refused({"base": base, "budget": "lots"}, 400, "usage", "budget")
    refused({"base": first}, 404, "nodata", "no baseline")
    monkeypatch.setattr(selection, "MAX_REQUEST", 64)
    refused({"base": base, "diff": "x" * 100}, 413, "toolarge", "over 64 bytes")
    refused(iter([b"x" * 50, b"x" * 50]), 413, "toolarge", "over 64 bytes")  # no length given


# -- baselines ------------------------------------------------------------------------------
def test_baselines_export_as_the_cli_and_import_as_the_cli_checks(
    team: Team, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    exported = team.call("GET", "/api/v1/baselines/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/gzip"
    assert "attachment" in exported.headers["content-disposition"]
    doc = json.loads(gzip.decompress(exported.content))
    team.cli_json(capsys, "baseline", "export", str(tmp_path / "cli.json.gz"), "-f", "json")
    assert doc == json.loads(gzip.decompress((tmp_path / "cli.json.gz").read_bytes()))
    at = team.call("GET", "/api/v1/baselines/export", params={"at": "main"})
    assert json.loads(gzip.decompress(at.content)) == doc

    url = "/api/v1/baselines/import"
    before = team.runs()
    assert team.call("POST", url, content=exported.content).status_code == 403, "read scope"
    assert team.call("POST", url, scope=None, content=exported.content).status_code == 401
    same = team.call("POST", url, scope="write", content=exported.content)
    assert same.status_code == 200, "the same baseline: the run already there"
    assert same.json()["run"]["id"] == doc_run_id(team)

    doc["started_at"] = "2026-01-02T03:04:05+00:00"  # another recording of the same commit
    other = gzip.compress(json.dumps(doc).encode())
    made = team.call("POST", url, scope="write", content=other)
    assert made.status_code == 201, made.text
    (tmp_path / "other.json.gz").write_bytes(other)
    assert made.json() == team.cli_json(
        capsys, "baseline", "import", str(tmp_path / "other.json.gz"), "-f", "json"
    )
    assert team.runs() == before + 1


def doc_run_id(team: Team) -> int:
    with Greenline.open(team.repo, db=team.db) as gl:
        return gl.selection.find_baseline().id


def test_a_bad_baseline_is_refused_and_stores_nothing(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenline.web.routes import baselines

    exported = json.loads(gzip.decompress(team.call("GET", "/api/v1/baselines/export").content))
    before = team.runs()
    url = "/api/v1/baselines/import"

    def refused(body: bytes, status: int, code: str, words: str) -> None:
        answer = team.call("POST", url, scope="write", content=body)
        assert answer.status_code == status, answer.text
        error = error_of(answer)
        assert error["code"] == code and words in error["message"], error
        assert "greenline-import-" not in error["message"], "no server paths in messages"

    tampered = {**exported, "commit": {**exported["commit"], "sha": "HEAD"}}
    refused(gzip.compress(json.dumps(tampered).encode()), 422, "input", "not a full commit id")
    foreign = {**exported, "commit": {**exported["commit"], "sha": "ab" * 20}}
    refused(gzip.compress(json.dumps(foreign).encode()), 400, "vcs", "is not in the repository")
    refused(b"not gzip", 422, "input", "the baseline file sent: not a greenline baseline")
    bomb = gzip.compress(b"0" * ((128 << 20) + 10), compresslevel=9)
    refused(bomb, 422, "input", "expands to more than")
    monkeypatch.setattr(baselines, "MAX_IMPORT", 1000)
    refused(bomb, 413, "toolarge", "over 1000 bytes")
    assert team.runs() == before, "nothing stored"

    missing = team.call("GET", "/api/v1/baselines/export", params={"run": 999})
    assert missing.status_code == 404 and error_of(missing)["code"] == "nodata"
    unknown = team.call("GET", "/api/v1/baselines/export", params={"at": "nope"})
    assert unknown.status_code == 400 and error_of(unknown)["code"] == "vcs"
    with Greenline.open(team.repo, db=team.db) as gl:
        junit = gl.runs.import_junit([Path(__file__).parent.parent / "data/junit/ant.xml"])
    not_one = team.call("GET", "/api/v1/baselines/export", params={"run": junit.id})
    assert not_one.status_code == 400 and "not a baseline" in error_of(not_one)["message"]


# -- the merge queue ------------------------------------------------------------------------
def test_the_merge_queue_over_rest_is_the_clis(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("feature-a", "feature-b"):
        branch(team.repo, name)
    empty = team.call("GET", "/api/v1/queue").json()
    assert empty == {**team.cli_json(capsys, "queue", "status", "-f", "json"), "next_cursor": None}

    refused = team.call("POST", "/api/v1/queue", json={"branch": "feature-a"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "scope"
    assert team.call("GET", "/api/v1/queue").json()["entries"] == [], "nothing queued"
    added = team.call(
        "POST", "/api/v1/queue", scope="write", json={"branch": "feature-a", "priority": 2}
    )
    assert added.status_code == 201, added.text
    assert added.json() == {
        "queued": "feature-a",
        "head": git(team.repo, "rev-parse", "feature-a"),
        "priority": 2,
    }
    team.call("POST", "/api/v1/queue", scope="write", json={"branch": "feature-b"})
    status = team.call("GET", "/api/v1/queue").json()
    assert status == {**team.cli_json(capsys, "queue", "status", "-f", "json"), "next_cursor": None}
    assert [(e["branch"], e["stage"]) for e in status["entries"]] == [
        ("feature-a", "precheck"),
        ("feature-b", "precheck"),
    ]
    first = team.call("GET", "/api/v1/queue", params={"limit": 1}).json()
    rest = team.call("GET", "/api/v1/queue", params={"limit": 1, "cursor": first["next_cursor"]})
    assert [e["branch"] for e in first["entries"] + rest.json()["entries"]] == [
        "feature-a",
        "feature-b",
    ]
    assert rest.json()["next_cursor"] is None

    assert team.call("POST", "/api/v1/queue/pause", scope="write").json()["paused"] is True
    assert team.cli_json(capsys, "queue", "status", "-f", "json")["paused"] is True
    assert team.call("POST", "/api/v1/queue/resume", scope="write").json()["paused"] is False
    removed = team.call("DELETE", "/api/v1/queue/feature-a", scope="write")
    assert [e["branch"] for e in removed.json()["entries"]] == ["feature-b"]
    again = team.call("DELETE", "/api/v1/queue/feature-a", scope="write")
    assert again.status_code == 400 and "not queued" in error_of(again)["message"]
    unknown = team.call("POST", "/api/v1/queue", scope="write", json={"branch": "nope"})
    assert unknown.status_code == 400 and error_of(unknown)["code"] == "vcs"
    own = team.call("POST", "/api/v1/queue", scope="write", json={"branch": "main"})
    assert own.status_code == 400 and "the branch the queue lands on" in error_of(own)["message"]


# -- delivery metrics -----------------------------------------------------------------------
def test_insights_metrics_are_the_clis(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    none = team.call("GET", "/api/v1/insights/metrics")
    assert none.status_code == 404 and error_of(none)["code"] == "nodata"
    with Greenline.open(team.repo, db=team.db) as gl:
        gl.insights.ingest_files("github", sorted(GITHUB.glob("runs-page-?.json")))
    doc = team.call("GET", "/api/v1/insights/metrics", params={"days": 2}).json()
    assert doc == team.cli_json(capsys, "insights", "metrics", "--days", "2", "-f", "json")
    report = team.call("GET", "/api/v1/insights/metrics", params={"definitions": "report"}).json()
    assert report == team.cli_json(
        capsys, "insights", "metrics", "--definitions", "report", "-f", "json"
    )
    for params, words in (
        ({"since": "yesterday"}, "since 'yesterday': not a date"),
        ({"days": 0}, "days"),
        ({"definitions": "mine"}, "definitions"),
    ):
        bad = team.call("GET", "/api/v1/insights/metrics", params=params)
        assert bad.status_code == 400 and words in error_of(bad)["message"], bad.text
