"""The MCP server over the Greenline api, built on the official ``mcp`` SDK (2.x
``MCPServer``), its tools registered by one module per capability.

Each tool returns the same JSON document as the matching CLI command's ``--format json``, so an
agent and a script see one shape. Errors come back as tool errors carrying greenline's message
and hint.
"""

from __future__ import annotations

from mcp.server import MCPServer

from greenline import __version__
from greenline.mcp import flaky, insights, queue, recovery, review, runs, selection
from greenline.mcp.calls import SCOPE_META, Opener

INSTRUCTIONS = """\
greenline records every test run of this repository (outcomes, durations, per-test coverage).
Use select_tests after editing code to learn which tests to run; list_runs to see recent runs
and whether main is green; get_run for one run's failures; test_history to judge one test over
time (failing since when, on which commits); list_flaky_tests and explain_flaky_test to tell a
flaky test from a real failure; pipeline_health and delivery_metrics for how CI is doing (success
rate, recovery, duration) against the benchmarks; queue_status for the merge queue;
why_is_main_red first when CI is red, then find_culprit and propose_revert; review_change
before reviewing a change, to see which changed code no test runs and what is likely to fail."""


def build_server(open_api: Opener, *, enqueue: bool = False) -> MCPServer:
    """An MCP server whose tools open the api per call (the store may change between calls);
    ``enqueue`` (the ``queue_agents_enqueue`` setting) adds the tool that queues branches."""
    server = MCPServer(name="greenline", version=__version__, instructions=INSTRUCTIONS)
    runs.register(server, open_api)
    selection.register(server, open_api)
    flaky.register(server, open_api)
    insights.register(server, open_api)
    queue.register(server, open_api, enqueue=enqueue)
    recovery.register(server, open_api)
    review.register(server, open_api)
    return server


async def tool_scopes(server: MCPServer) -> dict[str, str]:
    """The API token scope each tool needs on the team server, as the tool declares it; a
    tool that declares none needs ``write`` (nothing that changes things passes by omission)."""
    return {
        tool.name: str((tool.meta or {}).get(SCOPE_META, "write"))
        for tool in await server.list_tools()
    }
