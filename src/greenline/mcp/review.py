"""The review tool: where a change's risk is, for the agent or person reviewing it."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from greenline import views
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="review_change", title="Where is the risk in this change?", **scoped("read"))
    def review_change(base: str | None = None, limit: int = 50) -> dict[str, Any]:
        """A review digest of the working tree's change since base (a commit, branch or tag;
        default: the merge-base of HEAD with the default branch): the functions it changes and
        the tests that ran each in the recorded baseline, the changed functions that no test
        runs (untested), the tests most likely to fail with their estimated probability
        (likely_to_fail), flaky tests in the change's path and open code-quality findings in
        its files. notes say what could not be known (no baseline). Each list holds at most
        limit entries (truncated says whether any was cut; counts has the totals). Use it
        before reviewing or merging machine-written code, to see where to look first."""
        bounded = max(1, min(limit, MAX_LIMIT))
        doc: dict[str, Any] = call(
            open_api,
            lambda gl: views.review_document(gl.review.digest(base), limit=bounded),
        )
        return doc
