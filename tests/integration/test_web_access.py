"""Who may do what on the team server, and what it writes down (SQLite and PostgreSQL): every
route in the OpenAPI schema, missing, wrong, revoked and under-scoped tokens refused with 401/403
and nothing changed, reads open to all with ``--public-read`` while writes still need a write
token, every list paged with cursors, and one JSON access-log line per request with token names
only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from greenline.model import Outcome, TestResult
from tests.integration.web import Team, branch, error_of, team_server

DATA = Path(__file__).parent.parent / "data" / "junit"
#: a route, its method and what it needs; a body for the ones that take one
ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/queue", "read", {}),
    ("GET", "/api/v1/insights/metrics", "read", {}),
    ("GET", "/api/v1/baselines/export", "read", {}),
    ("POST", "/api/v1/select", "read", {"json": {"base": "main"}}),
    ("POST", "/api/v1/baselines/import", "write", {"content": b"\x1f\x8b"}),
    ("POST", "/api/v1/queue", "write", {"json": {"branch": "feature"}}),
    ("DELETE", "/api/v1/queue/feature", "write", {}),
    ("POST", "/api/v1/queue/pause", "write", {}),
    ("POST", "/api/v1/queue/resume", "write", {}),
    ("POST", "/api/v1/quarantine", "write", {"json": {"test_id": "t", "reason": "r"}}),
]


@pytest.fixture
def team(git_repo: Path, database_url: str) -> Iterator[Team]:
    with team_server(git_repo, database_url) as served:
        yield served


@pytest.fixture
def public(git_repo: Path, database_url: str) -> Iterator[Team]:
    with team_server(git_repo, database_url, public_read=True) as served:
        yield served


def state_of(team: Team) -> Any:
    """Everything a refused request could have changed."""
    with Greenline.open(team.repo, db=team.db) as gl:
        queue = gl.queue.status()
        return (
            [r.id for r in gl.runs.list_runs(limit=1000)],
            [(e["branch"], e["priority"]) for e in queue["entries"]],
            queue.get("paused"),
            [e.test_id for e in gl.flaky.quarantine_list()],
        )


def test_every_new_route_is_in_the_schema(team: Team) -> None:
    schema = team.call("GET", "/api/v1/openapi.json", scope=None).json()
    paths = set(schema["paths"])
    for _, path, _, _ in ROUTES:
        assert path.replace("/feature", "/{branch}") in paths
    assert "/api/v1/baselines/export" in paths and "/api/v1/insights/metrics" in paths
    body = schema["paths"]["/api/v1/select"]["post"]["requestBody"]["content"]
    props = body["application/json"]["schema"]["properties"]
    assert {"base", "diff", "changed_files", "budget", "confidence", "environment"} <= set(props)
    assert "$ref" not in json.dumps(props["environment"]), "the schema stands alone"
    for path in ("/api/v1/flaky", "/api/v1/quarantine", "/api/v1/queue", "/api/v1/triage/{run_id}"):
        params = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"limit", "cursor"} <= params, path


def test_missing_wrong_revoked_and_under_scoped_tokens_change_nothing(team: Team) -> None:
    branch(team.repo, "feature")
    with Greenline.open(team.repo, db=team.db) as gl:
        revoked, _ = gl.tokens.create("gone", "write")
        gl.tokens.revoke("gone")
    before = state_of(team)
    for method, path, needed, body in ROUTES:
        for token, status in ((None, 401), ("glt_forged", 401), (revoked, 401)):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = team.call(method, path, scope=None, headers=headers, **body)
            assert answer.status_code == status, (method, path, token, answer.text)
            assert error_of(answer)["code"] == "auth"
        if needed == "write":
            answer = team.call(method, path, scope="read", **body)
            assert answer.status_code == 403, (method, path, answer.text)
            error = error_of(answer)
            assert error["code"] == "scope" and "needs write" in error["message"]
    assert state_of(team) == before, "no refused request changed anything"
    added = team.call("POST", "/api/v1/queue", scope="admin", json={"branch": "feature"})
    assert added.status_code == 201, "admin includes write"


def test_public_read_opens_reads_and_keeps_writes_closed(public: Team) -> None:
    runs = public.call("GET", "/api/v1/runs", scope=None)
    assert runs.status_code == 200 and runs.json()["runs"], "no token needed to read"
    assert (
        public.call("POST", "/api/v1/select", scope=None, json={"base": "main"}).status_code == 200
    )
    wrong = public.call(
        "GET", "/api/v1/runs", scope=None, headers={"Authorization": "Bearer glt_x"}
    )
    assert wrong.status_code == 401, "a token that is sent is checked"
    before = state_of(public)
    body = {"json": {"test_id": "tests/test_app.py::test_add", "reason": "r"}}
    assert public.call("POST", "/api/v1/quarantine", scope=None, **body).status_code == 401
    assert public.call("POST", "/api/v1/quarantine", scope="read", **body).status_code == 403
    assert state_of(public) == before
    assert public.call("POST", "/api/v1/quarantine", scope="write", **body).status_code == 201


def walk(team: Team, path: str, key: str, **params: Any) -> list[Any]:
    """Every item of a list, one page of ``limit=1`` at a time."""
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        page = team.call(
            "GET", path, params={**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        doc = page.json()
        assert len(doc[key]) <= 1
        items += doc[key]
        cursor = doc["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


def test_every_list_pages_with_cursors(team: Team) -> None:
    with Greenline.open(team.repo, db=team.db) as gl:
        for name in ("pytest_xunit2.xml", "surefire.xml", "pytest_xunit2.xml"):
            gl.runs.import_junit([DATA / name])
        for test_id in ("tests/test_app.py::test_add", "tests/test_app.py::test_mul"):
            gl.flaky.quarantine(test_id, "#1", None, datetime.now(UTC) + timedelta(days=1))
        red = gl.runs.start_run("pytest")
        failing = [
            TestResult(f"tests/test_red.py::test_{i}", Outcome.FAILED, 0.1, message=f"E {i}")
            for i in range(3)
        ]
        gl.runs.add_results(red, failing)
        gl.runs.finish_run(red, 1, complete=True)
    lists = [
        ("/api/v1/runs", "runs", "id"),
        ("/api/v1/tests", "tests", "test_id"),
        ("/api/v1/flaky", "tests", "test_id"),
        ("/api/v1/quarantine", "tests", "test_id"),
        ("/api/v1/queue", "entries", "branch"),
        (f"/api/v1/triage/{red}", "verdicts", "test_id"),
    ]
    history = next(
        t
        for t in team.call("GET", "/api/v1/tests", params={"limit": 200}).json()["tests"]
        if t["runs"] > 1
    )
    lists.append((f"/api/v1/tests/{history['test_id']}/history", "results", "run_id"))
    for path, key, ident in lists:
        whole = team.call("GET", path, params={"limit": 200}).json()
        assert whole["next_cursor"] is None, path
        paged = walk(team, path, key)
        assert [i[ident] for i in paged] == [i[ident] for i in whole[key]], path
        bad = team.call("GET", path, params={"cursor": "%%%"})
        assert bad.status_code == 400 and error_of(bad)["code"] == "usage", path
        big = team.call("GET", path, params={"limit": 201})
        assert big.status_code == 400 and "limit" in error_of(big)["message"], path
    assert len(walk(team, f"/api/v1/triage/{red}", "verdicts")) == 3
    assert len(walk(team, "/api/v1/quarantine", "tests")) == 2


def test_one_json_access_line_per_request_with_the_token_name_only(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    secret = team.tokens["read"]
    with caplog.at_level(logging.INFO, logger="greenline.access"):
        team.call("GET", "/api/v1/runs", params={"limit": 1, "token": "glt_pasted", "q": "x"})
        team.call("GET", "/api/v1/runs", scope=None)
        team.call("GET", f"/api/v1/tests/{secret}/history")
        team.call("POST", "/api/v1/queue/pause", scope="read")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "greenline.access"]
    assert len(lines) == 4, lines
    first, anonymous, in_path, refused = lines
    assert set(first) == {
        "time",
        "method",
        "path",
        "query",
        "status",
        "duration_ms",
        "token",
        "client",
    }
    assert first["method"] == "GET" and first["path"] == "/api/v1/runs"
    assert first["query"] == "limit=1&token=***&q=x"
    assert first["status"] == 200 and first["token"] == "test-read"
    assert isinstance(first["duration_ms"], float) and first["client"] == "127.0.0.1"
    assert anonymous["status"] == 401 and anonymous["token"] is None
    assert in_path["path"] == "/api/v1/tests/***/history"
    assert refused["status"] == 403 and refused["token"] == "test-read"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged and "glt_pasted" not in logged, "no token text is logged"


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("token=glt_abc&limit=2", "token=***&limit=2"),
        (
            "access_token=x&api_key=y&password=z&Secret=w",
            "access_token=***&api_key=***&password=***&Secret=***",
        ),
        ("q=glt_abc", "q=***"),
        ("auth=Bearer%20abc", "auth=***"),
        ("next=eyJhbGciOi.eyJzdWIi.sig", "next=***"),
        ("cursor=NTA&limit=50", "cursor=NTA&limit=50"),
        ("%%%glt_x", "%%%***"),
    ],
)
def test_query_strings_are_masked(query: str, masked: str) -> None:
    from greenline.web.access_log import mask_query

    assert mask_query(query) == masked
