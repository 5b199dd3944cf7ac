"""The team server's settings (flags over ``GREENLINE_*`` over ``[tool.greenline]`` over
defaults) and what a real ``greenline serve`` process writes to stderr: where it serves, and one
JSON access-log line per request."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from greenline.web.__main__ import main, parse_args, resolve_settings
from tests.integration.web import free_port

CONFIG = '[tool.greenline]\nserver_port = 9001\nserver_host = "127.0.0.1"\nserver_workers = 2\n'


def test_flags_win_over_the_environment_over_the_config_over_defaults(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    for name in ("PORT", "HOST", "WORKERS", "PUBLIC_READ", "RETRY_SECONDS", "URL"):
        monkeypatch.delenv(f"GREENLINE_SERVER_{name}", raising=False)

    def resolved(*argv: str) -> dict[str, tuple[object, str]]:
        values = resolve_settings(parse_args(list(argv)))
        return {
            k.removeprefix("server_"): (v.value, v.source)
            for k, v in values.items()
            if k.startswith("server_")
        }

    assert resolved() == {
        "host": ("127.0.0.1", "default"),
        "port": (8787, "default"),
        "workers": (1, "default"),
        "public_read": (False, "default"),
        "retry_seconds": (30.0, "default"),  # the client's, for uploads and --server
        "url": (None, "default"),  # the client's: where `greenline backstage` points
    }
    (git_repo / "pyproject.toml").write_text(CONFIG)
    assert resolved()["port"] == (9001, "pyproject.toml")
    assert resolved()["workers"] == (2, "pyproject.toml")
    monkeypatch.setenv("GREENLINE_SERVER_PORT", "9002")
    monkeypatch.setenv("GREENLINE_SERVER_PUBLIC_READ", "true")
    assert resolved()["port"] == (9002, "env GREENLINE_SERVER_PORT")
    assert resolved()["public_read"] == (True, "env GREENLINE_SERVER_PUBLIC_READ")
    flagged = resolved("--port", "9003", "--no-public-read", "--workers", "3")
    assert flagged["port"] == (9003, "flag") and flagged["public_read"] == (False, "flag")
    assert flagged["workers"] == (3, "flag") and flagged["host"] == ("127.0.0.1", "pyproject.toml")


@pytest.mark.parametrize(
    ("config", "env", "argv", "message"),
    [
        ("server_port = 0", {}, [], "server_port = 0: expected a whole number from 1 to 65535"),
        ("", {"GREENLINE_SERVER_WORKERS": "many"}, [], "GREENLINE_SERVER_WORKERS"),
        ("", {"GREENLINE_SERVER_PUBLIC_READ": "maybe"}, [], "expected true or false"),
        ("", {}, ["--port", "70000"], "--port 70000: out of range"),
        ("server_prot = 1", {}, [], "did you mean 'server_port'?"),
    ],
)
def test_a_bad_setting_is_one_located_line_and_exit_4(
    git_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config: str,
    env: dict[str, str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(git_repo)
    (git_repo / "pyproject.toml").write_text(f"[tool.greenline]\n{config}\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert message in err and "Hint:" in err and "Traceback" not in err


@contextmanager
def serving(repo: Path, port: int, *args: str, env: dict[str, str]) -> Iterator[list[str]]:
    """``greenline serve ARGS`` in ``repo`` until it answers on ``port``; its stderr lines
    (complete once the block ends)."""
    lines: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenline", "serve", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "it did not start"
                time.sleep(0.2)
        yield lines
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        lines += err.splitlines()


def test_serve_reads_its_settings_and_writes_json_access_lines(git_repo: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")}
    configured, given, flagged = free_port(), free_port(), free_port()
    (git_repo / "pyproject.toml").write_text(f"[tool.greenline]\nserver_port = {configured}\n")
    env.update(GREENLINE_SERVER_PORT=str(given), GREENLINE_SERVER_PUBLIC_READ="1")
    with serving(git_repo, given, env=env) as lines:
        url = f"http://127.0.0.1:{given}/api/v1/runs"
        assert httpx.get(url, params={"token": "glt_oops"}, timeout=10).status_code == 200
    assert any(
        f"serving http://127.0.0.1:{given}" in line and "reads are public" in line for line in lines
    )
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(e["method"], e["path"], e["status"], e["token"]) for e in logged] == [
        ("GET", "/healthz", 200, None),
        ("GET", "/api/v1/runs", 200, None),
    ]
    assert logged[1]["query"] == "token=***" and "glt_oops" not in "\n".join(lines)

    with serving(git_repo, flagged, "--port", str(flagged), "--no-public-read", env=env):
        refused = httpx.get(f"http://127.0.0.1:{flagged}/api/v1/runs", timeout=10)
    assert refused.status_code == 401, "the flag wins over the environment"
