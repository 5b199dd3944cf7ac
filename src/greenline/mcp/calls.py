"""How every MCP tool reaches the api: it opens the workspace per call (the store may change
between calls) and turns greenline's errors into tool errors with their message and hint; and
what each tool declares about itself (read-only or not, the token scope it needs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from greenline.api import Greenline
from greenline.errors import GreenlineError

#: The most items a list tool returns at once.
MAX_LIMIT = 200
Opener = Callable[[], Greenline]


#: the tool ``_meta`` key naming the API token scope a tool needs on the team server (``/mcp``)
SCOPE_META = "greenline/scope"


def scoped(scope: str) -> dict[str, Any]:
    """The ``server.tool`` keywords of a tool that needs ``scope``: ``read`` (it changes
    nothing: MCP's read-only hint), ``write`` (it stores or creates something, or runs the
    repository's tests) or ``admin`` (it runs code the caller sends)."""
    return {
        "annotations": ToolAnnotations(read_only_hint=scope == "read"),
        "meta": {SCOPE_META: scope},
    }


def call(open_api: Opener, fn: Callable[[Greenline], Any]) -> Any:
    try:
        with open_api() as gl:
            return fn(gl)
    except GreenlineError as exc:
        raise ToolError(str(exc)) from None
