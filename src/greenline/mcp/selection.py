"""The selection tool: which tests the working tree's change can break."""

from __future__ import annotations

from mcp.server import MCPServer

from greenline import views
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import MAX_LIMIT, Opener, call, scoped
from greenline.selection import make_budget


def register(server: MCPServer, open_api: Opener) -> None:
    @server.tool(name="select_tests", title="Select the tests a change can break", **scoped("read"))
    def select_tests(
        base: str | None = None,
        budget: str | None = None,
        confidence: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Answer:
        """The tests the working tree's change (everything since the baseline run: commits,
        edits, new files) can break, most likely to fail first, each with its reasons (a changed
        or removed function it ran, failed last time, no coverage) and its estimated failure
        likelihood. base is a commit whose recorded run to judge against (default: the newest
        on HEAD's history). budget keeps only what fits: "10%" of the suite's time, "90s",
        "2m"; confidence ("0.99") keeps tests until they hold that share of the expected
        failures; over_budget lists the first affected tests left out. full_suite is set when
        the change cannot be judged and everything should run; new_test_files run whole.
        counts gives every list's length and how many tests each kind of reason selected.
        Selected tests come a page at a time (limit at most 200; total, offset=next_offset
        pages on). Use it to decide what to run after editing code."""
        plan = call(
            open_api,
            lambda gl: gl.selection.plan(base, make_budget(budget, confidence, prefix="")),
        )
        doc = views.selection_document(plan)
        size = max(1, min(limit, MAX_LIMIT))
        # over_budget: the next tests in run order past the budget (counts says how many)
        caps = {"over_budget": size, "new_test_files": size}
        return answer(doc, main="selected", offset=offset, limit=size, caps=caps)
