"""Merge-queue tools: its status and (when enabled) queueing a branch."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from greenline.api import Greenline
from greenline.mcp.bounds import Answer, answer
from greenline.mcp.calls import Opener, call, scoped


def register(server: MCPServer, open_api: Opener, *, enqueue: bool = False) -> None:
    @server.tool(name="queue_status", title="What is in the merge queue, and why", **scoped("read"))
    def queue_status() -> Answer:
        """The merge queue: the branch it lands on, each queued branch's stage (precheck: being
        checked alone on main; gate: waiting for or in the tree that would land) and priority,
        and the latest decisions with their reasons (landed as which commit, ejected because
        which check failed on which tree). Same document as `greenline queue status -f json`."""
        status: dict[str, Any] = call(open_api, lambda gl: gl.queue.status())
        return answer(status)

    if enqueue:

        @server.tool(
            name="enqueue_change", title="Queue a branch to land on main", **scoped("write")
        )
        def enqueue_change(branch: str, priority: int = 0) -> Answer:
            """Add `branch` (at its current head) to the merge queue: it is checked alone on
            main, then lands once the exact tree that would land passes; a runner
            (`greenline queue run`) does the work. Higher `priority` lands first."""

            def add(gl: Greenline) -> dict[str, Any]:
                entry = gl.queue.add(branch, priority)
                return {"queued": entry.change_id, "head": entry.head, "priority": priority}

            queued: dict[str, Any] = call(open_api, add)
            return answer(queued)
