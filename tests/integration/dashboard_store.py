"""A store the dashboard tests look at, filled by real pytest runs recorded with greenline on a
real git repository: main goes red, green, then red again at a breaking commit; a test flakes
(it fails every other run), and a test whose id carries markup flakes too. Plus ten weeks of
a team's GitHub Actions runs for the insights pages, one workflow with a hostile name."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from greenline.api import Greenline
from greenline.web import create_app
from tests.conftest import GIT_ENV, git, init_repo

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "insights" / "github-runs.json"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_ID = f"test_hostile.py::test_x[{HOSTILE}]"
HOSTILE_WORKFLOW = "</script><img src=x onerror=alert(2)>"
TOGGLE_ID = "test_toggle.py::test_every_other_run"
BROKEN_ID = "test_calc.py::test_mul"
CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)


def toggling(name: str, signature: str, marker: str = "") -> str:
    """A test that fails every other run in one checkout (a file toggles next to it)."""
    return (
        f"import pytest\nfrom pathlib import Path\n\n\n{marker}def {signature}:\n"
        f"    toggle = Path(__file__).with_name('{name}.txt')\n"
        "    odd = not toggle.exists()\n"
        "    toggle.write_text('x') if odd else toggle.unlink()\n"
        "    assert not odd\n"
    )


FILES = {
    "calc.py": CALC,
    "test_calc.py": TESTS,
    "test_toggle.py": toggling("toggle", "test_every_other_run()"),
    "test_hostile.py": toggling(
        "hostile", "test_x(x)", f"@pytest.mark.parametrize('x', [{HOSTILE!r}])\n"
    ),
    "pytest.ini": "[pytest]\npythonpath = .\n",
    ".gitignore": ".greenline/\n__pycache__/\n.pytest_cache/\n*.txt\n",
}


def record(repo: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "greenline", "--greenline-record"],
        cwd=repo,
        env={**os.environ, **GIT_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        check=False,
        timeout=300,
    )


def build_store(repo: Path) -> None:
    """Runs 1 (red: the flaky tests fail), 2 (green), 3 (red: a commit breaks ``mul`` and the
    flaky tests fail again); the insights warehouse with the GitHub sample."""
    repo.mkdir(parents=True)
    for name, text in FILES.items():
        (repo / name).write_text(text)
    init_repo(repo)
    record(repo)
    record(repo)
    (repo / "calc.py").write_text(CALC.replace("a * b", "a * b + 1"))
    git(repo, "commit", "-q", "-am", "calc: a faster mul")
    record(repo)
    sample = json.loads(SAMPLE.read_text())
    for run in sample["workflow_runs"]:
        if run["name"] == "Deploy":
            run["name"] = HOSTILE_WORKFLOW
    hostile = repo.parent / "github-runs.json"
    hostile.write_text(json.dumps(sample))
    with Greenline.open(repo) as gl:
        assert len(gl.runs.list_runs()) == 3
        gl.insights.ingest_files("github", [hostile])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(repo: Path) -> Iterator[str]:
    """The real server (uvicorn on a loopback port, in a thread) over ``repo``'s store."""
    port = free_port()
    config = uvicorn.Config(
        create_app(lambda: Greenline.open(repo)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def make_token(repo: Path, name: str, scope: str) -> str:
    with Greenline.open(repo) as gl:
        text, _ = gl.tokens.create(name, scope)
    return text
