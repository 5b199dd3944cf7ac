"""greenline's MCP server mounted at ``/mcp`` (streamable HTTP, stateless: any worker answers
any request) behind the API tokens: every request needs a read token (none with
``--public-read``), and a tool call needs the scope the tool declares (``write`` for one that
stores or creates something or runs the repository's tests, ``admin`` for one that runs code
the caller sends). Refusals are JSON-RPC errors, the shape MCP clients read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from greenline.api import Greenline
from greenline.api.tokens import Token
from greenline.mcp.server import build_server, tool_scopes
from greenline.web.deps import AuthError, authenticate

PATH = "/mcp"
#: JSON-RPC codes of the refusals (MCP leaves -32000..-32019 to implementations)
AUTH_REQUIRED = -32010
SCOPE_REQUIRED = -32011
#: where a request's checked token waits for the tool-call gate
TOKEN_KEY = "greenline.token"


class _Lent(Greenline):
    """The server's api lent to one tool call: a tool closes what it opens, and this workspace
    stays open for the server's life."""

    def close(self) -> None:
        pass


class ScopeGate:
    """MCP middleware: a ``tools/call`` of a tool that needs more than ``read`` goes on only
    with a token that allows it."""

    def __init__(self, scopes: dict[str, str]) -> None:
        self.scopes = scopes

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "tools/call":
            name = str((ctx.params or {}).get("name", ""))
            needed = self.scopes.get(name, "read")  # an unknown tool is the SDK's to refuse
            request = ctx.request
            token = request.scope.get(TOKEN_KEY) if request is not None else None
            if needed != "read" and not (isinstance(token, Token) and token.allows(needed)):
                who = f"token {token.name!r} has scope {token.scope}" if token else "no token"
                article = "an" if needed[0] in "aeiou" else "a"
                raise MCPError(
                    SCOPE_REQUIRED,
                    f"{name} needs {article} {needed} token: {who}",
                    {"hint": f"greenline token create NAME --scope {needed}"},
                )
        return await call_next(ctx)


class McpMount:
    """The ASGI app at ``/mcp``: checks the token, then hands the request to the MCP server's
    streamable HTTP app (built when the server starts, over the server's api)."""

    def __init__(self, *, public_read: bool, host: str) -> None:
        self.public_read = public_read
        self.host = host  # a loopback host turns on the SDK's DNS-rebinding protection
        self.http: ASGIApp | None = None
        self.gl: Greenline | None = None

    @asynccontextmanager
    async def running(self, gl: Greenline) -> AsyncIterator[None]:
        server = build_server(lambda: _Lent(gl.ws), enqueue=gl.settings.queue_agents_enqueue)
        server.middleware.append(ScopeGate(await tool_scopes(server)))
        self.http = server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, host=self.host
        )
        self.gl = gl
        try:
            async with server.session_manager.run():
                yield
        finally:
            self.http = self.gl = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.http is None or self.gl is None:
            response = _refusal(503, -32603, "the MCP server is not running", "try again")
            await response(scope, receive, send)
            return
        try:
            token = await anyio.to_thread.run_sync(
                authenticate, self.gl, scope, "read", self.public_read
            )
        except AuthError as exc:
            code = AUTH_REQUIRED if exc.http_status == 401 else SCOPE_REQUIRED
            await _refusal(exc.http_status, code, exc.message, exc.hint)(scope, receive, send)
            return
        scope[TOKEN_KEY] = token
        await self.http(scope, receive, send)


def _refusal(status: int, code: int, message: str, hint: str | None) -> JSONResponse:
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": code, "message": message, "data": {"hint": hint}},
    }
    headers = {"WWW-Authenticate": 'Bearer realm="greenline"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
