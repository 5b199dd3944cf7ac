"""How every MCP tool reaches the api: it opens the workspace per call (the store may change
between calls) and turns greenline's errors into tool errors with their message and hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from greenline.api import Greenline
from greenline.errors import GreenlineError

#: The most items a list tool returns at once.
MAX_LIMIT = 200
Opener = Callable[[], Greenline]


def call(open_api: Opener, fn: Callable[[Greenline], Any]) -> Any:
    try:
        with open_api() as gl:
            return fn(gl)
    except GreenlineError as exc:
        raise ToolError(str(exc)) from None
