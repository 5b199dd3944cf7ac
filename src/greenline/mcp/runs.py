"""Tools over recorded runs: recent runs, one run's results, one test's history."""

from __future__ import annotations

from mcp.server import MCPServer

from greenline import views
from greenline.api import Greenline
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped
from greenline.model import Run, RunStatus, TestHistoryEntry


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="list_runs", title="List recorded test runs", **scoped("read"))
    def list_runs(
        limit: int = 20, status: str | None = None, branch: str | None = None, offset: int = 0
    ) -> Answer:
        """Recent test runs of this repository, newest first: id, status (running, complete,
        incomplete), commit, branch, counts per outcome and total test time. Filter by status
        or branch; limit is at most 200; total says how many match, and offset=next_offset
        pages on. Use it to see whether the latest run on a branch passed."""
        wanted = RunStatus(status) if status else None
        size, start = _page(limit, offset)

        def read(gl: Greenline) -> tuple[list[Run], int]:
            runs = gl.runs.list_runs(limit=start + size, status=wanted, branch=branch)
            return runs, gl.runs.count_runs(wanted, branch)

        runs, total = call(open_api, read)
        doc = views.runs_document(runs)
        return answer(doc, main="runs", offset=start, limit=size, total=total)

    @server.tool(name="get_run", title="Show one test run", **scoped("read"))
    def get_run(
        run_id: int, include: str = "failures", offset: int = 0, limit: int = 100
    ) -> Answer:
        """One run by id: commit, environment, counts, and its results. include="failures"
        (default) lists only failed and errored attempts with their messages; "all" lists every
        result; "none" only the summary. Results come a page at a time (limit at most 200;
        total says how many, offset=next_offset pages on). Use it to see why a run failed."""
        doc = call(
            open_api, lambda gl: views.run_document(*gl.runs.run_with_results(run_id, include))
        )
        if "results" not in doc:
            return answer(doc)
        size, start = _page(limit, offset)
        return answer(doc, main="results", offset=start, limit=size)

    @server.tool(name="test_history", title="History of one test", **scoped("read"))
    def test_history(test_id: str, limit: int = 30, offset: int = 0) -> Answer:
        """Every recorded result of one test, newest first: run, commit, branch, attempt, outcome,
        duration and failure message. test_id is a pytest node id (tests/test_x.py::test_y) or
        classname::name from JUnit; limit is at most 200, total says how many results there
        are, offset=next_offset pages on. Use it to see when a test started failing or whether
        it flip-flops on the same commit."""
        size, start = _page(limit, offset)

        def read(gl: Greenline) -> tuple[list[TestHistoryEntry], int]:
            entries = gl.runs.test_history(test_id, limit=start + size)
            return entries, gl.runs.count_history(test_id)

        entries, total = call(open_api, read)
        doc = views.history_document(test_id, entries)
        return answer(doc, main="results", offset=start, limit=size, total=total)


def _page(limit: int, offset: int) -> tuple[int, int]:
    """A page's size (1 to MAX_LIMIT) and start (0 or more) from what the agent asked."""
    return max(1, min(limit, MAX_LIMIT)), max(offset, 0)
