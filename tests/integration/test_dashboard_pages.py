"""The dashboard's pages through HTTP against the real app over recorded runs: signing in
(the cookie's flags, where it sends you next), every page's JSON twin equal to the REST
document, store strings escaped, no inline script, and writing forms that need a write token,
their form token and our own origin; bad input gets one line and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from greenline.api import Greenline
from greenline.web import create_app
from tests.integration.dashboard_store import (
    HOSTILE,
    HOSTILE_ID,
    HOSTILE_WORKFLOW,
    TOGGLE_ID,
    build_store,
    make_token,
)

PAGES = [
    "/",
    "/runs",
    "/runs/1",
    "/runs/3",
    "/test?" + urlencode({"id": HOSTILE_ID}),
    "/flaky",
    "/flaky?sort=runs",
    "/queue",
    "/insights?days=70",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("dashboard-pages") / "repo"
    build_store(repo)
    return repo


@pytest.fixture
def client(repo: Path) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: Greenline.open(repo))) as client:
        yield client


def sign_in(client: TestClient, repo: Path, scope: str, name: str | None = None) -> str:
    token = make_token(repo, name or f"pages-{scope}-{id(client)}", scope)
    reply = client.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
    assert reply.status_code == 303
    return token


def csrf_of(client: TestClient) -> str:
    page = client.get("/").text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


def test_pages_ask_to_sign_in_and_twins_answer_401(client: TestClient) -> None:
    page = client.get("/runs/3", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fruns%2F3"
    twin = client.get("/runs/3?format=json")
    assert twin.status_code == 401
    assert set(twin.json()["error"]) == {"code", "message", "hint"}
    assert "/login" in twin.json()["error"]["hint"]
    assert client.get("/login").status_code == 200


def test_signing_in_sets_a_strict_httponly_cookie(client: TestClient, repo: Path) -> None:
    refused = client.post("/login", data={"token": "glt_nope", "next": "/"})
    assert refused.status_code == 401 and "not a live greenline token" in refused.text
    token = make_token(repo, "cookie-check", "read")
    for target, lands in (("/flaky", "/flaky"), ("//evil.example", "/"), ("https://x.y/", "/")):
        reply = client.post("/login", data={"token": token, "next": target}, follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"] == lands
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"greenline_session={token};")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert client.get("/").status_code == 200
    out = client.post("/logout", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert out.status_code == 303 and 'greenline_session=""' in out.headers["set-cookie"]
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_page_escapes_the_store_and_runs_no_inline_script(
    client: TestClient, repo: Path
) -> None:
    sign_in(client, repo, "read")
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert HOSTILE not in page.text and HOSTILE_WORKFLOW not in page.text, path
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert scripts and all(" src=" in s for s in scripts), path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/flaky").text
    insights = client.get("/insights?days=70").text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in insights


def test_each_twin_is_the_rest_document(client: TestClient, repo: Path) -> None:
    token = sign_in(client, repo, "read")
    rest = {"Authorization": f"Bearer {token}"}

    def twin(path: str) -> Any:
        sep = "&" if "?" in path else "?"
        reply = client.get(f"{path}{sep}format=json")
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
        doc = reply.json()
        assert doc.pop("next_cursor", None) is None
        return doc

    def api(path: str) -> Any:
        """The REST document; one page holds everything here, so its cursor is the end."""
        doc = client.get(path, headers=rest).json()
        assert doc.pop("next_cursor", None) is None
        return doc

    assert twin("/runs") == api("/api/v1/runs")
    run = twin("/runs/3")
    expected = client.get("/api/v1/runs/3", headers=rest).json()
    assert {k: run[k] for k in ("run", "results")} == {k: expected[k] for k in ("run", "results")}
    assert run["triage"] == api("/api/v1/triage/3")
    assert twin("/")["why_red"] == api("/api/v1/why-red")
    board = twin("/flaky")
    listed = client.get("/api/v1/flaky", headers=rest).json()
    assert sorted(board["tests"], key=str) == sorted(listed["tests"], key=str)
    test = twin("/test?" + urlencode({"id": HOSTILE_ID}))
    history = api(f"/api/v1/tests/{HOSTILE_ID}/history")
    assert test["history"] == history and test["test_id"] == HOSTILE_ID
    with Greenline.open(repo) as gl:
        assert twin("/queue") == gl.queue.status()
        assert twin("/insights?days=70")["schema"] == gl.insights.metrics(days=70)["schema"]


def test_quarantine_needs_write_its_form_token_and_our_origin(
    client: TestClient, repo: Path
) -> None:
    def quarantined() -> bool:
        with Greenline.open(repo) as gl:
            return TOGGLE_ID in gl.flaky.active_quarantine()

    sign_in(client, repo, "read")
    form = {"test_id": TOGGLE_ID, "reason": "flaky", "csrf": csrf_of(client)}
    assert "quarantine-button" not in client.get("/test?" + urlencode({"id": TOGGLE_ID})).text
    read = client.post("/quarantine", data=form, follow_redirects=False)
    assert read.status_code == 403 and "needs write" in read.text
    sign_in(client, repo, "write")
    form["csrf"] = csrf_of(client)
    forged = client.post("/quarantine", data={**form, "csrf": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403 and "does not match this session" in forged.text
    elsewhere = client.post("/quarantine", data=form, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert not quarantined(), "nothing changed"
    done = client.post("/quarantine", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/test?" + urlencode({"id": TOGGLE_ID})
    assert quarantined()
    again = client.post("/quarantine", data=form)
    assert again.status_code == 400 and "already quarantined" in again.text
    released = client.post("/quarantine/release", data=form, follow_redirects=False)
    assert released.status_code == 303 and not quarantined()


def test_bad_input_gets_one_line_and_a_status(client: TestClient, repo: Path) -> None:
    sign_in(client, repo, "write")
    missing = client.get("/runs/999")
    assert missing.status_code == 404 and "no run with id 999" in missing.text
    unknown = client.get("/test?id=nope")
    assert unknown.status_code == 404 and "Hint:" in unknown.text
    assert client.get("/test").status_code == 400
    assert client.get("/runs?cursor=%25%25").status_code == 400
    assert client.get("/runs?status=weird").status_code == 400
    assert client.get("/flaky?sort=weird").status_code == 400
    assert client.get("/runs/999?format=json").json()["error"]["code"] == "nodata"
    big = client.post(
        "/quarantine",
        content=b"reason=" + b"x" * (70 << 10),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 422
    not_form = client.post("/quarantine", json={"test_id": TOGGLE_ID})
    assert not_form.status_code == 400
    assert client.get("/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/nope.css").status_code == 404


def test_a_revoked_token_signs_the_browser_out(client: TestClient, repo: Path) -> None:
    sign_in(client, repo, "read", name="soon-revoked")
    assert client.get("/flaky").status_code == 200
    with Greenline.open(repo) as gl:
        gl.tokens.revoke("soon-revoked")
    assert client.get("/flaky", follow_redirects=False).status_code == 303
    assert client.get("/flaky?format=json").status_code == 401


def test_a_public_read_server_shows_its_pages_but_writes_still_need_a_token(repo: Path) -> None:
    app = create_app(lambda: Greenline.open(repo), public_read=True)
    with TestClient(app) as client:
        for page in PAGES:
            assert client.get(page, follow_redirects=False).status_code == 200, page
        assert client.get("/runs/3?format=json").status_code == 200
        shown = client.get("/test?" + urlencode({"id": TOGGLE_ID})).text
        assert 'name="csrf"' not in shown, "no write form for a reader who has not signed in"
        before = client.get("/flaky?format=json").json()
        refused = client.post(
            "/quarantine", data={"test_id": TOGGLE_ID, "csrf": ""}, follow_redirects=False
        )
        assert refused.status_code in (401, 403)
        assert client.get("/flaky?format=json").json() == before
