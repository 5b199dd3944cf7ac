"""The team server over a real HTTP socket (uvicorn on loopback) against a real store: health
and readiness, tokens (digests only, scopes, revocation), cursor paging, one JSON error shape
with the error tree's statuses, and the OpenAPI schema."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from greenline.api import Greenline
from greenline.web import create_app

DATA = Path(__file__).parent.parent / "data" / "junit"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(git_repo: Path) -> Iterator[tuple[str, Path]]:
    with Greenline.open(git_repo) as gl:
        for name in ("pytest_xunit2.xml", "surefire.xml", "ant.xml"):
            gl.runs.import_junit([DATA / name])
    port = free_port()
    config = uvicorn.Config(
        create_app(lambda: Greenline.open(git_repo)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", git_repo
    finally:
        running.should_exit = True
        thread.join(timeout=20)


def token(repo: Path, scope: str) -> str:
    with Greenline.open(repo) as gl:
        text, _ = gl.tokens.create(f"test-{scope}", scope)
    return text


def test_health_readiness_and_the_schema(server: tuple[str, Path]) -> None:
    base, _ = server
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
    schema = httpx.get(f"{base}/api/v1/openapi.json").json()
    assert {"/api/v1/runs", "/api/v1/quarantine", "/api/v1/why-red"} <= set(schema["paths"])


def test_tokens_are_needed_and_scoped(server: tuple[str, Path]) -> None:
    base, repo = server
    anonymous = httpx.get(f"{base}/api/v1/runs")
    assert anonymous.status_code == 401
    error = anonymous.json()["error"]
    assert set(error) == {"code", "message", "hint"} and "Bearer" in error["hint"]
    read = token(repo, "read")
    forged = httpx.get(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {read}x"})
    assert forged.status_code == 401
    headers = {"Authorization": f"Bearer {read}"}
    assert httpx.get(f"{base}/api/v1/runs", headers=headers).status_code == 200
    body = {"test_id": "com.acme.PaymentTest::retriesThenPasses", "reason": "flaky: #1"}
    refused = httpx.post(f"{base}/api/v1/quarantine", json=body, headers=headers)
    assert refused.status_code == 403 and "needs write" in refused.json()["error"]["message"]
    write = {"Authorization": f"Bearer {token(repo, 'write')}"}
    added = httpx.post(f"{base}/api/v1/quarantine", json=body, headers=write)
    assert added.status_code == 201 and added.json()["test_id"] == body["test_id"]
    listed = httpx.get(f"{base}/api/v1/quarantine", headers=headers).json()
    assert [t["test_id"] for t in listed["tests"]] == [body["test_id"]]
    path = f"{base}/api/v1/quarantine/{body['test_id']}"
    assert httpx.delete(path, headers=write).json()["released"] == 1
    with Greenline.open(repo) as gl:
        gl.tokens.revoke("test-read")
    assert httpx.get(f"{base}/api/v1/runs", headers=headers).status_code == 401
    store = (repo / ".greenline" / "greenline.db").read_bytes()
    assert read.encode() not in store, "only the digest is stored"
    rows = sqlite3.connect(repo / ".greenline" / "greenline.db").execute(
        "select digest from api_tokens"
    )
    assert all(len(r[0]) == 64 for r in rows)


def test_lists_page_with_cursors_and_errors_have_one_shape(server: tuple[str, Path]) -> None:
    base, repo = server
    headers = {"Authorization": f"Bearer {token(repo, 'read')}"}
    first = httpx.get(f"{base}/api/v1/runs", params={"limit": 2}, headers=headers).json()
    assert len(first["runs"]) == 2 and first["next_cursor"]
    rest = httpx.get(
        f"{base}/api/v1/runs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert len(rest["runs"]) == 1 and rest["next_cursor"] is None
    ids = [r["id"] for r in first["runs"] + rest["runs"]]
    with Greenline.open(repo) as gl:
        assert ids == [r.id for r in gl.runs.list_runs()], "newest first, each run once"
    missing = httpx.get(f"{base}/api/v1/runs/999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no run with id 999"
    bad = httpx.get(f"{base}/api/v1/runs", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["hint"]
    too_many = httpx.get(f"{base}/api/v1/runs", params={"limit": 10_000}, headers=headers)
    assert too_many.status_code == 400 and "limit" in too_many.json()["error"]["message"]
    tests = httpx.get(f"{base}/api/v1/tests", params={"limit": 3}, headers=headers).json()
    assert len(tests["tests"]) == 3 and tests["next_cursor"]
    history = httpx.get(
        f"{base}/api/v1/tests/com.acme.PaymentTest::retriesThenPasses/history", headers=headers
    ).json()
    assert history["test_id"] == "com.acme.PaymentTest::retriesThenPasses"
    run_id = ids[-1]
    every = httpx.get(f"{base}/api/v1/runs/{run_id}?include=all", headers=headers).json()
    pages, cursor = [], None
    while True:
        params = {"include": "all", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{base}/api/v1/runs/{run_id}", params=params, headers=headers).json()
        assert page["total"] == len(every["results"]) and page["returned"] == len(page["results"])
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(pages) > 1 and pages[0]["truncated"] and not every["truncated"]
    assert [r for p in pages for r in p["results"]] == every["results"], "each result once"


def test_serve_and_the_token_commands(git_repo: Path) -> None:
    import json
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "greenline", *args],
            cwd=git_repo,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    made = cli("token", "create", "ci-main", "--scope", "write")
    assert made.returncode == 0, made.stderr
    text = made.stdout.strip().splitlines()[0]
    assert text.startswith("glt_")
    listed = json.loads(cli("token", "list", "-f", "json").stdout)
    assert [t["name"] for t in listed["tokens"]] == ["ci-main"] and text not in json.dumps(listed)
    bad = cli("token", "create", "no good", "--scope", "root")
    assert bad.returncode == 4 and "Hint:" in bad.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenline", "serve", "--port", str(port)],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        runs = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/runs", headers={"Authorization": f"Bearer {text}"}
        )
        assert runs.status_code == 200 and runs.json()["runs"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_ci_jobs_upload_their_junit_reports(
    server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenline.web.routes import runs as routes

    base, repo = server
    write = {"Authorization": f"Bearer {token(repo, 'write')}", "Content-Type": "application/xml"}
    report = (DATA / "ant.xml").read_bytes()
    url = f"{base}/api/v1/runs/junit"
    made = httpx.post(
        url, content=report, params={"commit": "HEAD", "branch": "main"}, headers=write
    )
    assert made.status_code == 201, made.text
    run = made.json()["run"]
    assert run["source"] == "junit" and run["commit"]["branch"] == "main"
    assert len(run["commit"]["sha"]) == 40
    read = {"Authorization": f"Bearer {token(repo, 'read')}"}
    assert httpx.post(url, content=report, headers=read).status_code == 403
    unknown = httpx.post(url, content=report, params={"commit": "nope"}, headers=write)
    assert unknown.status_code == 400 and "unknown revision" in unknown.json()["error"]["message"]
    broken = httpx.post(url, content=b"<testsuite><testcase", headers=write)
    assert broken.status_code == 422 and broken.json()["error"]["hint"]
    monkeypatch.setattr(routes, "MAX_UPLOAD", 100)
    big = httpx.post(url, content=report, headers=write)
    assert big.status_code == 422 and "over" in big.json()["error"]["message"]
    with Greenline.open(repo) as gl:
        assert len(gl.runs.list_runs()) == 4, "only the good upload was stored"
