"""``greenline mcp``: serve greenline's tools to coding agents over stdio or streamable HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import typer
from typer.core import TyperCommand

from greenline.cli.state import state_of

MCP_MODULE = [sys.executable, "-m", "greenline.mcp"]


def tool_names() -> list[str] | None:
    """The tools' names, asked of the MCP server itself (the CLI must not import it: the
    interfaces are separate, and the tools move between modules); None if it cannot say."""
    try:
        proc = subprocess.run(
            [*MCP_MODULE, "--list-tools"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.split("\t", 1)[0] for line in proc.stdout.splitlines() if line.strip()]


class McpCommand(TyperCommand):
    """Lists the server's tools in ``--help`` only: starting the server's module to ask takes a
    second that no other command should pay."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        names = tool_names()
        tools = (
            f"Tools: {', '.join(names)} (enqueue_change only with queue_agents_enqueue = true)."
            if names
            else "Tools: python -m greenline.mcp --list-tools lists them."
        )
        own = self.help
        self.help = f"{own}\n\n{tools}"
        try:
            super().format_help(ctx, formatter)
        finally:
            self.help = own


def serve_mcp(
    ctx: typer.Context,
    http: str | None = typer.Option(
        None, "--http", metavar="HOST:PORT", help="Serve streamable HTTP here instead of stdio."
    ),
) -> None:
    """Run the MCP server (stdio by default) for coding agents.

    The server is its own interface (python -m greenline.mcp); this command hands the process
    over to it with the global --db and --repo options.
    """
    state = state_of(ctx)
    argv = list(MCP_MODULE)
    if state.db:
        argv += ["--db", state.db]
    if state.repo:
        argv += ["--repo", str(state.repo)]
    if http:
        argv += ["--http", http]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
