"""Code-quality findings into the store: from saved responses of GitHub's Code Quality findings
API and code scanning alerts, and live from a fake GitHub (a local ASGI app on a loopback
socket serving the documented shapes, pages linked by cursor in the Link header), on SQLite and
PostgreSQL."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from greenline.api import Greenline
from greenline.errors import ForgeError, InputError
from tests.conftest import git
from tests.servers import free_port

FINDINGS = Path(__file__).parent.parent / "data" / "github" / "code_quality_findings.json"
REPO = "octo-org/octo-repo"


@pytest.fixture
def gl(git_repo: Path, database_url: str) -> Iterator[Greenline]:
    git(git_repo, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    with Greenline.open(git_repo, db=database_url) as api:
        yield api


def saved(tmp_path: Path, doc: Any, name: str = "findings.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_saved_findings_are_stored_once_and_read_back_by_path(gl: Greenline) -> None:
    done = gl.findings.ingest_files(REPO, [FINDINGS])
    assert (done.count.added, done.count.replaced, done.problems) == (3, 0, ())
    assert done.matches_workspace
    again = gl.findings.ingest_files(REPO, [FINDINGS])
    assert (again.count.added, again.count.unchanged, again.count.resolved) == (0, 3, 0)
    found = gl.findings.open_in(["app.py", "lib/other.py", "README.md"])
    assert [(f.path, f.number, f.rule_id) for f in found] == [
        ("app.py", 4, "py/unused-local-variable"),
        ("lib/other.py", 3, "py/catch-base-exception"),
    ]  # the dismissed one (number 1, app.py) is not open
    first = found[0]
    assert (first.severity, first.category, first.start_line) == ("note", "maintainability", 2)
    assert first.message == "Variable total is not used."
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert gl.findings.open_in(["lib/other.py"])[0].rule_title.startswith("Except block")


def test_a_changed_finding_is_replaced_and_a_malformed_one_skipped(
    gl: Greenline, tmp_path: Path
) -> None:
    gl.findings.ingest_files(REPO, [FINDINGS])
    doc = json.loads(FINDINGS.read_text())
    doc[0]["state"] = "dismissed"
    del doc[1]["location"]
    doc.append({"number": 9, "state": "open", "rule": {"id": "x"}, "location": {"path": "../x"}})
    done = gl.findings.ingest_files(REPO, [saved(tmp_path, doc)])
    assert (done.count.replaced, done.count.unchanged) == (1, 1)
    assert [p.location for p in done.problems] == ["findings.json[1]", "findings.json[3]"]
    assert "location.path is missing" in done.problems[0].reason
    assert "not a path inside the repository" in done.problems[1].reason
    assert [f.number for f in gl.findings.open_in(["app.py", "lib/other.py"])] == [3]
    with pytest.raises(InputError, match="not a list of code-quality findings"):
        gl.findings.ingest_files(REPO, [saved(tmp_path, {"message": "Not Found"}, "bad.json")])
    with pytest.raises(InputError, match="is not OWNER/REPO"):
        gl.findings.ingest_files("octo-repo", [FINDINGS])


def test_code_scanning_alerts_are_read_from_files(gl: Greenline, tmp_path: Path) -> None:
    alert = {
        "number": 42,
        "created_at": "2026-10-02T12:00:00Z",
        "html_url": f"https://github.com/{REPO}/security/code-scanning/42",
        "state": "open",
        "rule": {
            "id": "py/empty-except",
            "severity": "note",
            "description": "Empty except",
            "name": "py/empty-except",
            "tags": ["maintainability", "external/cwe/cwe-390"],
        },
        "tool": {"name": "CodeQL", "version": "2.19.0"},
        "most_recent_instance": {
            "ref": "refs/heads/main",
            "state": "open",
            "commit_sha": "39406e42cb832f683daa691dd652a8dc36ee8930",
            "message": {"text": "'except' clause does nothing but pass."},
            "location": {"path": "./app.py", "start_line": 7, "end_line": 8},
        },
    }
    gl.findings.ingest_files(REPO, [saved(tmp_path, [alert])])
    (found,) = gl.findings.open_in(["app.py"])
    assert (found.provider, found.number, found.category) == (
        "github-code-scanning",
        42,
        "maintainability",
    )
    assert (found.path, found.start_line, found.end_line) == ("app.py", 7, 8)
    assert found.url == alert["html_url"]


# -- live, from a fake GitHub -----------------------------------------------------------------
def fake_github(findings: list[dict[str, Any]], page_size: int = 2) -> tuple[FastAPI, list[Any]]:
    """GET /repos/{owner}/{repo}/code-quality/findings as GitHub answers it: a JSON list, the
    next page linked with an ``after`` cursor; 401 for a wrong token."""
    app = FastAPI()
    seen: list[Any] = []

    @app.get("/repos/{owner}/{repo}/code-quality/findings")
    def list_findings(owner: str, repo: str, request: Request) -> JSONResponse:
        seen.append((dict(request.query_params), request.headers.get("authorization")))
        if request.headers.get("authorization") != "Bearer good-token":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        start = int(request.query_params.get("after") or 0)
        page = findings[start : start + page_size]
        headers = {}
        if start + page_size < len(findings):
            url = request.url.include_query_params(after=str(start + page_size))
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse(page, headers=headers)

    return app, seen


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_a_live_fetch_follows_the_pages_and_resolves_what_is_gone(gl: Greenline) -> None:
    listed = json.loads(FINDINGS.read_text())
    extra = copy.deepcopy(listed[0])
    extra.update(number=7)
    extra["location"]["path"] = "lib/more.py"
    app, seen = fake_github([*listed, extra])
    with serving(app) as url:
        counted: list[int] = []
        done = gl.findings.fetch_github(
            REPO, token="good-token", base_url=url, progress=counted.append
        )
        assert (done.count.added, done.count.resolved) == (4, 0)
        assert counted == [2, 4]
        assert [query.get("after") for query, _ in seen] == [None, "2"]
        assert all(query["per_page"] == "100" for query, _ in seen)
        # number 7 is gone from the next full listing: resolved, not deleted
        app2, _ = fake_github(listed)
        with serving(app2) as url2:
            again = gl.findings.fetch_github(REPO, token="good-token", base_url=url2)
        assert (again.count.unchanged, again.count.resolved) == (3, 1)
        assert gl.findings.open_in(["lib/more.py"]) == []
        with pytest.raises(ForgeError) as refused:
            gl.findings.fetch_github(REPO, token="wrong", base_url=url)
    assert "refused the request (401)" in refused.value.message
    assert "Code quality" in (refused.value.hint or "")
    assert "wrong" not in str(refused.value)
