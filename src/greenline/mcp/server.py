"""MCP tools over the Greenline api, built on the official ``mcp`` SDK (2.x ``MCPServer``).

Each tool returns the same JSON document as the matching CLI command's ``--format json``, so an
agent and a script see one shape. Errors come back as tool errors carrying greenline's message
and hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from greenline import __version__, views
from greenline.api import Greenline
from greenline.api.insights import parse_time
from greenline.errors import GreenlineError
from greenline.insights.summary import health
from greenline.model import RunStatus
from greenline.selection import make_budget

INSTRUCTIONS = """\
greenline records every test run of this repository (outcomes, durations, per-test coverage).
Use select_tests after editing code to learn which tests to run; list_runs to see recent runs
and whether main is green; get_run for one run's failures; test_history to judge one test over
time (failing since when, on which commits); list_flaky_tests and explain_flaky_test to tell a
flaky test from a real failure; pipeline_health and delivery_metrics for how CI is doing (success
rate, recovery, duration) against the benchmarks; queue_status for the merge queue."""

MAX_LIMIT = 200


def _call(open_api: Callable[[], Greenline], fn: Callable[[Greenline], Any]) -> Any:
    try:
        with open_api() as gl:
            return fn(gl)
    except GreenlineError as exc:
        raise ToolError(str(exc)) from None


def build_server(open_api: Callable[[], Greenline], *, enqueue: bool = False) -> MCPServer:
    """An MCP server whose tools open the api per call (the store may change between calls);
    ``enqueue`` (the ``queue_agents_enqueue`` setting) adds the tool that queues branches."""
    server = MCPServer(name="greenline", version=__version__, instructions=INSTRUCTIONS)

    @server.tool(name="list_runs", title="List recorded test runs")
    def list_runs(
        limit: int = 20, status: str | None = None, branch: str | None = None
    ) -> dict[str, Any]:
        """Recent test runs of this repository, newest first: id, status (running, complete,
        incomplete), commit, branch, counts per outcome and total test time. Filter by status
        or branch; limit is at most 200. Use it to see whether the latest run on a branch passed."""
        wanted = RunStatus(status) if status else None
        bounded = max(1, min(limit, MAX_LIMIT))
        runs = _call(open_api, lambda gl: gl.list_runs(limit=bounded, status=wanted, branch=branch))
        return views.runs_document(runs)

    @server.tool(name="get_run", title="Show one test run")
    def get_run(run_id: int, include: str = "failures") -> dict[str, Any]:
        """One run by id: commit, environment, counts, and its results. include="failures"
        (default) lists only failed and errored attempts with their messages; "all" lists every
        result; "none" only the summary. Use it to see why a run failed."""
        if include not in ("failures", "all", "none"):
            raise ToolError("include must be one of: failures, all, none")

        def read(gl: Greenline) -> dict[str, Any]:
            run = gl.get_run(run_id)
            if include == "none":
                return views.run_document(run, None)
            results = gl.run_results(run_id)
            if include == "failures":
                results = [r for r in results if r.outcome.is_failure]
            return views.run_document(run, results)

        result: dict[str, Any] = _call(open_api, read)
        return result

    @server.tool(name="test_history", title="History of one test")
    def test_history(test_id: str, limit: int = 30) -> dict[str, Any]:
        """Every recorded result of one test, newest first: run, commit, branch, attempt, outcome,
        duration and failure message. test_id is a pytest node id (tests/test_x.py::test_y) or
        classname::name from JUnit. Use it to see when a test started failing or whether it
        flip-flops on the same commit."""
        bounded = max(1, min(limit, MAX_LIMIT))
        entries = _call(open_api, lambda gl: gl.test_history(test_id, limit=bounded))
        return views.history_document(test_id, entries)

    @server.tool(name="select_tests", title="Select the tests a change can break")
    def select_tests(
        base: str | None = None,
        budget: str | None = None,
        confidence: str | None = None,
        limit: int = 200,
    ) -> dict[str, Any]:
        """The tests the working tree's change (everything since the baseline run: commits,
        edits, new files) can break, most likely to fail first, each with its reasons (a changed
        or removed function it ran, failed last time, no coverage) and its estimated failure
        likelihood. base is a commit whose recorded run to judge against (default: the newest
        on HEAD's history). budget keeps only what fits: "10%" of the suite's time, "90s",
        "2m"; confidence ("0.99") keeps tests until they hold that share of the expected
        failures; over_budget lists the affected tests left out. full_suite is set when the
        change cannot be judged and everything should run; new_test_files run whole. Use it to
        decide what to run after editing code; at most limit tests listed."""
        plan = _call(
            open_api,
            lambda gl: gl.plan_selection(base, make_budget(budget, confidence, prefix="")),
        )
        doc = views.selection_document(plan)
        bounded = max(1, min(limit, MAX_LIMIT * 10))
        doc["truncated"] = len(doc["selected"]) > bounded
        doc["selected"] = doc["selected"][:bounded]
        return doc

    @server.tool(name="list_flaky_tests", title="List flaky tests")
    def list_flaky_tests(limit: int = 50) -> dict[str, Any]:
        """Tests the recorded history shows to be flaky (passed and failed on the same code, or
        passed on a retry, or flipping across runs) or failing every time, most CI time lost
        first, each with its likely cause, confidence and evidence, plus the tests in
        quarantine (their failures do not fail the build). Use it before trusting a red test:
        a failure of a flaky test is weak evidence that a change broke something."""
        doc: dict[str, Any] = _call(
            open_api, lambda gl: views.flaky_document(gl.flaky_tests(), gl.active_quarantine())
        )
        bounded = max(1, min(limit, MAX_LIMIT))
        doc["truncated"] = len(doc["tests"]) > bounded
        doc["tests"] = doc["tests"][:bounded]
        return doc

    @server.tool(name="explain_flaky_test", title="Is this test flaky, and why?")
    def explain_flaky_test(test_id: str) -> dict[str, Any]:
        """One test's verdict (flaky, stable or failing), its likely cause, the evidence from
        recorded runs (run ids included), what its newest greenline flaky scan found (root
        cause, polluters, cleaners) and its quarantine history. test_id is a pytest node
        id such as tests/test_cart.py::test_total."""
        verdict, entries, scan = _call(
            open_api, lambda gl: (*gl.explain_flaky(test_id), gl.scanned_verdict(test_id))
        )
        return views.flaky_explanation_document(verdict, entries, scan)

    @server.tool(name="propose_flaky_fix", title="Propose a verified fix for a flaky test")
    def propose_flaky_fix(test_id: str) -> dict[str, Any]:
        """Find a flaky test's root cause (from this commit's newest greenline flaky scan, or a
        new scan: reruns in several orders and alone) and synthesise a patch for it, verified
        in a scratch copy: the test passes 60 of 60 runs
        under the condition that made it fail and every other test still passes. Returns the
        patch as a unified diff (not applied), or why no patch holds. Slow: it runs the suite
        many times."""
        result = _call(open_api, lambda gl: gl.fix_flaky(test_id))
        return views.fix_document(
            result.verdict,
            result.patch,
            result.verified_runs,
            result.tried,
            result.applied,
            result.scan,
        )

    def metrics(
        since: str | None, until: str | None, days: int, repository: str | None
    ) -> dict[str, Any]:
        def read(gl: Greenline) -> dict[str, Any]:
            return gl.delivery_metrics(
                since=parse_time(since, "since"),
                until=parse_time(until, "until"),
                days=days,
                repository=repository,
            )

        result: dict[str, Any] = _call(open_api, read)
        return result

    @server.tool(name="delivery_metrics", title="Delivery metrics against the benchmarks")
    def delivery_metrics(
        since: str | None = None,
        until: str | None = None,
        days: int = 30,
        repository: str | None = None,
    ) -> dict[str, Any]:
        """CI delivery metrics from the ingested workflow runs (greenline insights): throughput,
        duration P50/P95, success rate (cancelled runs aside) and time to recovery, per branch
        class (default branch vs others) and workflow, with the previous window, the year
        before, weekly trends, the slowest and most failing workflows and jobs, compared with
        the recommended benchmarks (90% success on main, recovery under 60 min, duration at most
        10 min) and the 2026 industry medians. Window: since/until as ISO dates, or the last
        `days` days of the data. Same document as `greenline insights metrics --format json`;
        for a short answer use pipeline_health."""
        return metrics(since, until, days, repository)

    @server.tool(name="pipeline_health", title="Is the pipeline healthy? (short)")
    def pipeline_health(days: int = 7, repository: str | None = None) -> dict[str, Any]:
        """A short, bounded digest over the last `days` days of ingested workflow runs: is the
        default branch healthy, its success rate and mean recovery against the benchmarks,
        which default-branch workflows are still red, duration P50/P95, the three most failing
        workflows and up to four plain-language findings. Use it to answer "why is main red?"
        or "is CI healthy?" cheaply."""
        return health(metrics(None, None, days, repository))

    @server.tool(name="queue_status", title="What is in the merge queue, and why")
    def queue_status() -> dict[str, Any]:
        """The merge queue: the branch it lands on, each queued branch's stage (precheck: being
        checked alone on main; gate: waiting for or in the tree that would land) and priority,
        and the latest decisions with their reasons (landed as which commit, ejected because
        which check failed on which tree). Same document as `greenline queue status -f json`."""
        status: dict[str, Any] = _call(open_api, lambda gl: gl.queue_status())
        return status

    if enqueue:

        @server.tool(name="enqueue_change", title="Queue a branch to land on main")
        def enqueue_change(branch: str, priority: int = 0) -> dict[str, Any]:
            """Add `branch` (at its current head) to the merge queue: it is checked alone on
            main, then lands once the exact tree that would land passes; a runner
            (`greenline queue run`) does the work. Higher `priority` lands first."""

            def add(gl: Greenline) -> dict[str, Any]:
                entry = gl.queue_add(branch, priority)
                return {"queued": entry.change_id, "head": entry.head, "priority": priority}

            queued: dict[str, Any] = _call(open_api, add)
            return queued

    return server
