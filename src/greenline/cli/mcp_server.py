"""``greenline mcp``: serve greenline's tools to coding agents over stdio or streamable HTTP."""

from __future__ import annotations

import os
import sys

import typer

from greenline.cli.state import state_of


def serve_mcp(
    ctx: typer.Context,
    http: str | None = typer.Option(
        None, "--http", metavar="HOST:PORT", help="Serve streamable HTTP here instead of stdio."
    ),
) -> None:
    """Run the MCP server (stdio by default): select_tests, list_runs, get_run, test_history.

    The server is its own interface (python -m greenline.mcp); this command hands the process
    over to it with the global --db and --repo options.
    """
    state = state_of(ctx)
    argv = [sys.executable, "-m", "greenline.mcp"]
    if state.db:
        argv += ["--db", state.db]
    if state.repo:
        argv += ["--repo", str(state.repo)]
    if http:
        argv += ["--http", http]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
