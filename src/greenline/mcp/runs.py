"""Tools over recorded runs: recent runs, one run's results, one test's history."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from greenline import views
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped
from greenline.model import RunStatus


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="list_runs", title="List recorded test runs", **scoped("read"))
    def list_runs(
        limit: int = 20, status: str | None = None, branch: str | None = None
    ) -> dict[str, Any]:
        """Recent test runs of this repository, newest first: id, status (running, complete,
        incomplete), commit, branch, counts per outcome and total test time. Filter by status
        or branch; limit is at most 200. Use it to see whether the latest run on a branch passed."""
        wanted = RunStatus(status) if status else None
        bounded = max(1, min(limit, MAX_LIMIT))
        runs = call(
            open_api, lambda gl: gl.runs.list_runs(limit=bounded, status=wanted, branch=branch)
        )
        return views.runs_document(runs)

    @server.tool(name="get_run", title="Show one test run", **scoped("read"))
    def get_run(run_id: int, include: str = "failures") -> dict[str, Any]:
        """One run by id: commit, environment, counts, and its results. include="failures"
        (default) lists only failed and errored attempts with their messages; "all" lists every
        result; "none" only the summary. Use it to see why a run failed."""
        result: dict[str, Any] = call(
            open_api, lambda gl: views.run_document(*gl.runs.run_with_results(run_id, include))
        )
        return result

    @server.tool(name="test_history", title="History of one test", **scoped("read"))
    def test_history(test_id: str, limit: int = 30) -> dict[str, Any]:
        """Every recorded result of one test, newest first: run, commit, branch, attempt, outcome,
        duration and failure message. test_id is a pytest node id (tests/test_x.py::test_y) or
        classname::name from JUnit. Use it to see when a test started failing or whether it
        flip-flops on the same commit."""
        bounded = max(1, min(limit, MAX_LIMIT))
        entries = call(open_api, lambda gl: gl.runs.test_history(test_id, limit=bounded))
        return views.history_document(test_id, entries)
