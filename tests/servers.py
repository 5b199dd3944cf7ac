"""Real team servers for tests: uvicorn on a free loopback port, in a thread of the test process
or in a process of its own (which a test can kill with SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# httpx imports httpcore on first use and maps its exceptions by class: imported here, before
# pytester snapshots sys.modules, so a test's fresh copy of httpcore cannot go unrecognised
import httpcore  # noqa: F401
import httpx
import uvicorn

from greenline.api import Greenline
from greenline.web import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no server answered at {url} in {seconds}s")
        time.sleep(0.1)


@contextlib.contextmanager
def thread_server(repo: Path, db: str | None = None, port: int | None = None) -> Iterator[str]:
    """The server over ``repo``'s store (or ``db``) in a thread; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        create_app(lambda: Greenline.open(repo, db=db)),
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
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=20)


class ProcessServer:
    """``greenline serve`` in a process of its own, which ``kill`` ends with SIGKILL."""

    def __init__(self, repo: Path, db: str | None = None, port: int | None = None) -> None:
        self.repo = repo
        self.db = db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "greenline.web", "--port", str(self.port)]
        args += ["--repo", str(self.repo)] + (["--db", self.db] if self.db else [])
        self.proc = subprocess.Popen(
            args, cwd=self.repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_healthy(self.url)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


def make_token(repo: Path, scope: str, db: str | None = None, name: str | None = None) -> str:
    with Greenline.open(repo, db=db) as gl:
        text, _ = gl.tokens.create(name or f"test-{scope}", scope)
    return text
