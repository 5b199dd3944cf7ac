"""The MCP server over stdio, driven by the official SDK's client against a real store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from greenline.api import Greenline
from greenline.cli.main import run_cli
from greenline.views import (
    flaky_document,
    flaky_explanation_document,
    history_document,
    run_document,
    runs_document,
)

DATA = Path(__file__).parent.parent / "data" / "junit"


async def _session_calls(repo: Path, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "greenline.mcp", "--repo", str(repo)], cwd=str(repo)
    )
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        out["tools"] = (await session.list_tools()).tools
        for name, arguments in calls:
            out[f"{name}{json.dumps(arguments, sort_keys=True)}"] = await session.call_tool(
                name, arguments
            )
    return out


def call_server(repo: Path, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return anyio.run(_session_calls, repo, calls)


def test_tools_answer_with_the_cli_json(git_repo: Path) -> None:
    with Greenline.open(git_repo) as gl:
        first = gl.runs.import_junit([DATA / "pytest_xunit2.xml"])
        second = gl.runs.import_junit([DATA / "surefire.xml"])
        expected_runs = runs_document(gl.runs.list_runs())
        results = gl.runs.run_results(first.id)
        expected_run = run_document(
            gl.runs.get_run(first.id), [r for r in results if r.outcome.is_failure]
        )
        flaky = "com.acme.PaymentTest::retriesThenPasses"
        expected_history = history_document(flaky, gl.runs.test_history(flaky, limit=30))
        expected_flaky = flaky_document(gl.flaky.verdicts(), gl.flaky.active_quarantine())
        expected_explain = flaky_explanation_document(*gl.flaky.explain(flaky))

    answers = call_server(
        git_repo,
        [
            ("list_runs", {}),
            ("get_run", {"run_id": first.id}),
            ("test_history", {"test_id": flaky}),
            ("get_run", {"run_id": 999}),
            ("test_history", {"test_id": "com.acme.PaymentTest::retriesThenPass"}),
            ("list_flaky_tests", {}),
            ("explain_flaky_test", {"test_id": flaky}),
        ],
    )
    tools = {tool.name: tool for tool in answers["tools"]}
    assert set(tools) == {
        "list_runs",
        "get_run",
        "test_history",
        "review_change",
        "select_tests",
        "list_flaky_tests",
        "explain_flaky_test",
        "propose_flaky_fix",
        "verify_flaky_fix",
        "delivery_metrics",
        "pipeline_health",
        "queue_status",
        "why_is_main_red",
        "triage_run",
        "find_culprit",
        "propose_revert",
    }, "enqueue_change only when queue_agents_enqueue is on"
    for tool in tools.values():
        assert tool.description and len(tool.description) > 80, "tools explain themselves"
        assert tool.input_schema["type"] == "object"
    assert tools["get_run"].input_schema["required"] == ["run_id"]

    def structured(key: str) -> Any:
        result = answers[key]
        assert not result.is_error, result.content
        return result.structured_content

    assert structured("list_runs{}") == expected_runs
    assert structured(f'get_run{{"run_id": {first.id}}}') == expected_run
    assert structured(f'test_history{{"test_id": "{flaky}"}}') == expected_history
    assert [r["id"] for r in expected_runs["runs"]] == [second.id, first.id]
    assert structured("list_flaky_tests{}") == {**expected_flaky, "truncated": False}
    assert structured(f'explain_flaky_test{{"test_id": "{flaky}"}}') == expected_explain
    assert expected_explain["verdict"] == "flaky", "Surefire's flakyFailure: passed on a retry"

    missing = answers['get_run{"run_id": 999}']
    assert missing.is_error
    assert "no run with id 999" in missing.content[0].text
    typo = answers['test_history{"test_id": "com.acme.PaymentTest::retriesThenPass"}']
    assert typo.is_error
    assert f"did you mean '{flaky}'" in typo.content[0].text


def test_mcp_json_equals_cli_json(git_repo: Path, capsys: Any, monkeypatch: Any) -> None:
    with Greenline.open(git_repo) as gl:
        gl.runs.import_junit([DATA / "ant.xml"])
    monkeypatch.chdir(git_repo)
    capsys.readouterr()
    assert run_cli(["runs", "--format", "json"]) == 0
    cli_doc = json.loads(capsys.readouterr().out)
    answers = call_server(git_repo, [("list_runs", {})])
    assert answers["list_runs{}"].structured_content == cli_doc


async def _http_list_runs(url: str) -> Any:
    from mcp.client.streamable_http import streamable_http_client

    with anyio.fail_after(30):
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("list_runs", {})


def wait_for_port(port: int, timeout: float = 30) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_streamable_http(git_repo: Path) -> None:
    import socket
    import subprocess

    with Greenline.open(git_repo) as gl:
        gl.runs.import_junit([DATA / "ant.xml"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "greenline.mcp", "--http", f"127.0.0.1:{port}"],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        result = anyio.run(_http_list_runs, f"http://127.0.0.1:{port}/mcp")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not result.is_error
    assert result.structured_content["runs"][0]["source"] == "junit"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "nonsense"], "greenline: error: not a database URL"),
        (["--http", "localhost"], "expected HOST:PORT"),
    ],
)
def test_bad_arguments_are_one_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "greenline.mcp", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 4
    assert message in proc.stderr


def test_delivery_tools_answer_with_the_cli_json(
    git_repo: Path, capsys: Any, monkeypatch: Any
) -> None:
    github = Path(__file__).parent.parent / "data" / "github"
    with Greenline.open(git_repo) as gl:
        gl.insights.ingest_files("github", sorted(github.glob("runs-page-?.json")))
    monkeypatch.chdir(git_repo)
    capsys.readouterr()
    assert run_cli(["insights", "metrics", "--days", "2", "--format", "json"]) == 0
    cli_doc = json.loads(capsys.readouterr().out)
    answers = call_server(
        git_repo,
        [
            ("delivery_metrics", {"days": 2}),
            ("pipeline_health", {"days": 2}),
            ("delivery_metrics", {"since": "yesterday"}),
        ],
    )
    assert answers['delivery_metrics{"days": 2}'].structured_content == cli_doc
    health = answers['pipeline_health{"days": 2}'].structured_content
    assert health["schema"] == "greenline.pipeline-health/1"
    assert health["default_branch"]["success_rate"] == cli_doc["overall"]["default"]["success_rate"]
    assert health["healthy"] is False and health["checks"]["success_rate_ok"] is False
    assert len(json.dumps(health)) < 3000, "a token-cheap digest"
    bad = answers['delivery_metrics{"since": "yesterday"}']
    assert bad.is_error and "since 'yesterday': not a date" in bad.content[0].text


def test_queue_tools_and_enqueue_only_when_enabled(git_repo: Path) -> None:
    from tests.conftest import git

    git(git_repo, "checkout", "-q", "-b", "feature")
    (git_repo / "feature.txt").write_text("new\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "feature")
    git(git_repo, "checkout", "-q", "main")
    off = call_server(git_repo, [("queue_status", {})])
    assert "enqueue_change" not in {t.name for t in off["tools"]}
    assert off["queue_status{}"].structured_content["entries"] == []
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nqueue_agents_enqueue = true\n")
    on = call_server(
        git_repo,
        [
            ("enqueue_change", {"branch": "feature", "priority": 2}),
            ("enqueue_change", {"branch": "nope"}),
            ("queue_status", {}),
        ],
    )
    queued = on['enqueue_change{"branch": "feature", "priority": 2}'].structured_content
    assert queued["queued"] == "feature" and queued["priority"] == 2
    assert on['enqueue_change{"branch": "nope"}'].is_error
    status = on["queue_status{}"].structured_content
    assert status["schema"] == "greenline.queue-status/1" and status["branch"] == "main"
    assert [(e["branch"], e["stage"], e["priority"]) for e in status["entries"]] == [
        ("feature", "precheck", 2)
    ]
