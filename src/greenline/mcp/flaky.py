"""Flaky-test tools: the list, one test's explanation, a verified fix."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from greenline import views
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="list_flaky_tests", title="List flaky tests", **scoped("read"))
    def list_flaky_tests(limit: int = 50, offset: int = 0) -> Answer:
        """Tests the recorded history shows to be flaky (passed and failed on the same code, or
        passed on a retry, or flipping across runs) or failing every time, most CI time lost
        first, each with its likely cause, confidence and evidence, plus the tests in
        quarantine (their failures do not fail the build). counts gives how many tests have
        each verdict and each cause; tests come a page at a time (limit at most 200; total,
        offset=next_offset pages on). Use it before trusting a red test: a failure of a flaky
        test is weak evidence that a change broke something."""
        doc: dict[str, Any] = call(
            open_api,
            lambda gl: views.flaky_document(*gl.flaky.listing()),
        )
        doc["counts"] = _counts(doc["tests"])
        size = max(1, min(limit, MAX_LIMIT))
        return answer(doc, main="tests", offset=offset, limit=size)

    @server.tool(name="explain_flaky_test", title="Is this test flaky, and why?", **scoped("read"))
    def explain_flaky_test(test_id: str) -> Answer:
        """One test's verdict (flaky, stable or failing), its likely cause, the evidence from
        recorded runs (run ids included), what its newest greenline flaky scan found (root
        cause, polluters, cleaners) and its quarantine history; and under "diagnosis"
        everything needed to write a fix: the root cause in a sentence, the test's and its
        polluters' source with their lines, the state the polluters leave changed (each name
        with what it was and what it is after them, and where it is defined), the lines of the
        code under test involved, the failure, what fixing it already tried and why that did
        not hold, and the next step. Prove a patch with verify_flaky_fix. test_id is a pytest
        node id such as tests/test_cart.py::test_total."""
        verdict, entries, scan, diagnosis = call(
            open_api,
            lambda gl: (
                *gl.flaky.explain(test_id),
                gl.flaky.scanned_verdict(test_id),
                gl.flaky.diagnosis(test_id),
            ),
        )
        return answer(views.flaky_explanation_document(verdict, entries, scan, diagnosis))

    @server.tool(
        name="propose_flaky_fix", title="Propose a verified fix for a flaky test", **scoped("write")
    )
    def propose_flaky_fix(test_id: str) -> Answer:
        """Find a flaky test's root cause (from this commit's newest greenline flaky scan, or a
        new scan: reruns in several orders and alone) and synthesise a patch for it, verified
        in a scratch copy: the test passes 60 of 60 runs
        under the condition that made it fail and every other test still passes. Returns the
        patch as a unified diff (not applied), or why no patch holds. Slow: it runs the suite
        many times."""
        result = call(open_api, lambda gl: gl.flaky.fix(test_id))
        return answer(
            views.fix_document(
                result.verdict,
                result.patch,
                result.verified_runs,
                result.tried,
                result.applied,
                result.scan,
            )
        )

    @server.tool(name="verify_flaky_fix", title="Verify a fix for a flaky test", **scoped("admin"))
    def verify_flaky_fix(test_id: str, patch: str) -> Answer:
        """Prove a fix you wrote for a flaky test: `patch` is a unified diff (git diff). It must
        apply, keep every assertion and add no sleep, retry, skip, xfail or flaky marker; then
        the test must pass 60 of 60 runs under the condition that made it fail (after its
        polluter, other hash seeds) and every other test must still pass. Nothing is written to
        the work tree. Returns verified or rejected with the reason. Slow: it runs the suite.
        explain_flaky_test gives the root cause, the polluter and what it leaves changed."""
        doc: dict[str, Any] = call(
            open_api, lambda gl: views.patch_verdict_document(gl.flaky.verify_patch(test_id, patch))
        )
        return answer(doc)


def _counts(tests: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many listed tests have each verdict, and each likely cause."""
    counts: dict[str, dict[str, int]] = {"verdict": {}, "category": {}}
    for test in tests:
        for key in counts:
            counts[key][test[key]] = counts[key].get(test[key], 0) + 1
    return {key: dict(sorted(found.items())) for key, found in counts.items()}
