"""Recovery tools: why main is red, one run's triage, the culprit search (long-running: it
reports progress) and the revert proposal (a branch only; it never lands)."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from greenline import views
from greenline.api import Greenline
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="why_is_main_red", title="Why is main red?", **scoped("read"))
    def why_is_main_red() -> Answer:
        """The default branch's state: is it green; if not, the red streak (runs, since when,
        the last green run), each failing test's verdict of the newest run grouped by kind
        (regression, flaky, infra, setup, already-failing, quarantined, suspect-flaky,
        unknown) with examples, what a culprit search found, and the suggested action.
        Bounded to about 16 KB. Start here when CI is red."""
        doc: dict[str, Any] = call(
            open_api, lambda gl: views.why_red_document(gl.recovery.main_health())
        )
        return answer(doc)

    @server.tool(name="triage_run", title="Why did each test of a run fail?", **scoped("read"))
    def triage_run(run_id: int | None = None, offset: int = 0, limit: int = 50) -> Answer:
        """One verdict per failing test of a run (default: the newest on the current branch),
        with its evidence: the masked failure signature, the run compared with, and for a
        regression the changed files the test ran; counts per verdict and the clusters of one
        signature cover every failing test, the verdicts come a page at a time (limit at most
        200; total, offset=next_offset pages on). Same document as `greenline triage -f json`."""
        doc: dict[str, Any] = call(
            open_api, lambda gl: views.triage_document(gl.recovery.triage(run_id))
        )
        return answer(doc, main="verdicts", offset=offset, limit=max(1, min(limit, MAX_LIMIT)))

    @server.tool(
        name="find_culprit", title="Find the commit that broke the tests", **scoped("write")
    )
    async def find_culprit(
        good: str,
        ctx: Context,
        bad: str = "HEAD",
        tests: list[str] | None = None,
        confidence: float = 0.99,
    ) -> Answer:
        """Which first-parent commit in (good, bad] broke the failing tests (default: those of
        the newest run at bad that triage does not explain away), or none: the failures are
        flaky. Probes run the tests at chosen commits, rerun as flakiness demands, and the
        culprit is confirmed (its parent passes, it fails). Slow: it runs tests; progress is
        reported as it goes."""

        def progress(what: str, probes: int, runs: int) -> None:
            message = f"{what} ({probes} probes, {runs} test runs)"
            anyio.from_thread.run(partial(ctx.report_progress, probes, None, message))

        def search(gl: Greenline) -> dict[str, Any]:
            report = gl.recovery.culprit(
                good, bad, tests or [], confidence=confidence, progress=progress
            )
            return views.culprit_document(report)

        result: dict[str, Any] = await anyio.to_thread.run_sync(call, open_api, search)
        return answer(result)

    @server.tool(
        name="propose_revert", title="Propose a verified revert of a culprit", **scoped("write")
    )
    def propose_revert(commit: str) -> Answer:
        """Create the branch greenline/revert-<sha> that reverts a confirmed culprit on HEAD,
        verified (its failing tests pass there, the tests of the files it changes stay green).
        It never moves any branch and never lands: a person or the merge queue does."""
        doc: dict[str, Any] = call(
            open_api, lambda gl: views.revert_document(gl.recovery.revert(commit))
        )
        return answer(doc)
