"""The MCP server at ``/mcp`` of the team server, driven by the official SDK's streamable HTTP
client over a loopback socket (SQLite and PostgreSQL): the same tools and documents as the CLI,
behind the API tokens, each tool call needing the scope its tool declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from greenline.api import Greenline
from tests.integration.test_mcp_server import as_listed
from tests.integration.web import Team, bearer, branch, team_server

DATA = Path(__file__).parent.parent / "data" / "junit"
Calls = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def team(git_repo: Path, database_url: str) -> Iterator[Team]:
    branch(git_repo, "feature")
    # agents may queue branches on this server: the tool exists, and needs a write token
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nqueue_agents_enqueue = true\n")
    with Greenline.open(git_repo, db=database_url) as gl:
        gl.runs.import_junit([DATA / "surefire.xml"])
    with team_server(git_repo, database_url) as served:
        yield served


async def _session(url: str, token: str | None, calls: Calls) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(headers=bearer(token)) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            out["tools"] = {t.name: t for t in (await session.list_tools()).tools}
            for name, arguments in calls:
                try:
                    out[name] = await session.call_tool(name, arguments)
                except MCPError as exc:
                    out[name] = exc
    return out


def mcp(team: Team, scope: str | None, calls: Calls) -> dict[str, Any]:
    return anyio.run(_session, team.url, team.tokens.get(scope) if scope else None, calls)


def test_an_mcp_client_reaches_the_team_store_with_a_read_token(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    flaky = "com.acme.PaymentTest::retriesThenPasses"
    answers = mcp(
        team,
        "read",
        [
            ("list_runs", {}),
            ("explain_flaky_test", {"test_id": flaky}),
            ("queue_status", {}),
            ("enqueue_change", {"branch": "feature"}),
            ("verify_flaky_fix", {"test_id": flaky, "patch": ""}),
        ],
    )
    tools = answers["tools"]
    assert {"list_runs", "select_tests", "enqueue_change", "find_culprit"} <= set(tools)
    for name in ("list_runs", "explain_flaky_test", "queue_status", "why_is_main_red"):
        assert tools[name].annotations.read_only_hint is True
        assert tools[name].meta == {"greenline/scope": "read"}
    assert tools["enqueue_change"].annotations.read_only_hint is False
    assert tools["verify_flaky_fix"].meta == {"greenline/scope": "admin"}

    listed = team.cli_json(capsys, "runs", "-f", "json")
    assert answers["list_runs"].structured_content == as_listed(listed)
    explained = answers["explain_flaky_test"].structured_content
    assert explained == team.cli_json(capsys, "flaky", "explain", flaky, "-f", "json")
    assert explained["verdict"] == "flaky"
    status = team.cli_json(capsys, "queue", "status", "-f", "json")
    assert answers["queue_status"].structured_content == status

    refused = answers["enqueue_change"]
    assert isinstance(refused, MCPError) and refused.code == -32011
    assert refused.message == "enqueue_change needs a write token: token 'test-read' has scope read"
    assert refused.data == {"hint": "greenline token create NAME --scope write"}
    assert team.cli_json(capsys, "queue", "status", "-f", "json")["entries"] == [], "not queued"
    admin_only = answers["verify_flaky_fix"]
    assert isinstance(admin_only, MCPError) and "needs a admin token" not in admin_only.message
    assert admin_only.message.startswith("verify_flaky_fix needs an admin token")


def test_tools_that_write_need_a_write_token(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = mcp(team, "write", [("enqueue_change", {"branch": "feature", "priority": 3})])
    queued = answers["enqueue_change"]
    assert not queued.is_error, queued.content
    assert queued.structured_content["queued"] == "feature"
    entries = team.cli_json(capsys, "queue", "status", "-f", "json")["entries"]
    assert [(e["branch"], e["priority"]) for e in entries] == [("feature", 3)]


def test_no_wrong_or_revoked_token_reaches_the_tools(team: Team) -> None:
    with Greenline.open(team.repo, db=team.db) as gl:
        revoked, _ = gl.tokens.create("gone", "admin")
        gl.tokens.revoke("gone")
    ping = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    for token in (None, "glt_forged", revoked, "not-even-a-token"):
        answer = httpx.post(f"{team.url}/mcp", json=ping, headers=bearer(token), timeout=30)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        body = answer.json()
        assert (
            body["error"]["code"] == -32010
            and body["error"]["message"] == "a valid API token is needed"
        )
    with pytest.raises(ExceptionGroup) as refused:
        mcp(team, None, [])
    assert refused.group_contains(MCPError, match="a valid API token is needed")


def test_public_read_opens_the_read_tools_only(git_repo: Path, database_url: str) -> None:
    branch(git_repo, "feature")
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nqueue_agents_enqueue = true\n")
    with team_server(git_repo, database_url, public_read=True) as team:
        answers = mcp(team, None, [("list_runs", {}), ("enqueue_change", {"branch": "feature"})])
    assert not answers["list_runs"].is_error
    refused = answers["enqueue_change"]
    assert isinstance(refused, MCPError) and refused.message.endswith(
        "needs a write token: no token"
    )
