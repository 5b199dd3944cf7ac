"""The team server for the server tests: a real store with a recorded baseline (a small project
whose per-test coverage is its real blocks), tokens of each scope, and the app served by uvicorn
on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from greenline.api import Greenline
from greenline.cli.main import run_cli
from greenline.model import Outcome, TestResult
from greenline.tracing.blocks import read_file_blocks
from greenline.web import create_app
from tests.conftest import git

APP = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from app import add, mul\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
TEST_ADD = "tests/test_app.py::test_add"
TEST_MUL = "tests/test_app.py::test_mul"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port for the block; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def record_baseline(gl: Greenline, repo: Path) -> int:
    """A complete run at HEAD whose two tests ran the real blocks of ``app.py``."""
    blocks = {b.name: b for b in read_file_blocks((repo / "app.py").read_text(), "app.py").blocks}
    run_id = gl.runs.start_run("pytest", args="-q")
    results = [
        TestResult(TEST_ADD, Outcome.PASSED, 0.1, path="tests/test_app.py"),
        TestResult(TEST_MUL, Outcome.PASSED, 0.2, path="tests/test_app.py"),
    ]
    coverage = {
        TEST_ADD: [blocks["<module>"], blocks["add"]],
        TEST_MUL: [blocks["<module>"], blocks["mul"]],
    }
    gl.runs.add_results(run_id, results, coverage)
    gl.runs.finish_run(run_id, 0, complete=True)
    return run_id


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Team:
    """A served store: its URL, repository, database URL and a token per scope."""

    url: str
    repo: Path
    db: str
    tokens: dict[str, str] = field(default_factory=dict)

    def call(
        self, method: str, path: str, scope: str | None = "read", **kwargs: Any
    ) -> httpx.Response:
        headers = {**bearer(self.tokens.get(scope) if scope else None), **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def cli_json(self, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
        """What ``greenline --db URL --repo REPO ARGS`` prints, as JSON."""
        capsys.readouterr()
        code = run_cli(["--db", self.db, "--repo", str(self.repo), *args])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return json.loads(captured.out)

    def runs(self) -> int:
        with Greenline.open(self.repo, db=self.db) as gl:
            return len(gl.runs.list_runs(limit=1000))


def branch(repo: Path, name: str) -> None:
    """A branch ``name`` off main with one commit of its own; main stays checked out."""
    git(repo, "checkout", "-q", "-b", name)
    (repo / f"{name}.txt").write_text(f"{name}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)
    git(repo, "checkout", "-q", "main")


def make_project(repo: Path) -> None:
    (repo / "app.py").write_text(APP)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text(TESTS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app and its tests")


@contextmanager
def team_server(repo: Path, db: str, *, public_read: bool = False) -> Iterator[Team]:
    """The project in ``repo`` with a baseline in store ``db``, served; tokens made."""
    make_project(repo)
    with Greenline.open(repo, db=db) as gl:
        record_baseline(gl, repo)
        tokens = {
            scope: gl.tokens.create(f"test-{scope}", scope)[0]
            for scope in ("read", "write", "admin")
        }
    app = create_app(lambda: Greenline.open(repo, db=db), public_read=public_read)
    with serve(app) as url:
        yield Team(url, repo, db, tokens)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "hint"}}``, and nothing else."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint"}, body
    error: dict[str, Any] = body["error"]
    return error
