"""What every route depends on: the shared api (one workspace for the server's life) and the
caller's token, checked against the scope the route needs."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Request

from greenline.api import Greenline
from greenline.api.tokens import Token
from greenline.errors import GreenlineError, UsageError
from greenline.web.read_cache import cache_of, version_of


class AuthError(GreenlineError):
    """No valid token (401), or one without the scope a route needs (403)."""

    exit_code = 4
    http_status = 401


class ScopeError(AuthError):
    http_status = 403


async def api_of(request: Request) -> Greenline:
    # async: FastAPI runs a plain def dependency in a worker thread, a hop per request
    gl: Greenline = request.app.state.greenline
    return gl


#: the api as a route parameter
Api = Annotated[Greenline, Depends(api_of)]


#: where a request's access-log line finds the name of the token it came with
ACCESS_KEY = "greenline.access"


def authenticate(
    gl: Greenline, scope: MutableMapping[str, Any], needed: str, public_read: bool
) -> Token | None:
    """The token of an ASGI request, which must allow ``needed``; None for a read without a
    token on a server started with ``--public-read`` (a token that is sent is always checked).
    The token's name (never its text) is noted for the access log."""
    headers = dict(scope.get("headers") or ())
    header = headers.get(b"authorization", b"").decode("latin-1")
    if not header and needed == "read" and public_read:
        return None
    kind, _, text = header.partition(" ")
    token = None
    if kind.lower() == "bearer":
        text = text.strip()
        version = version_of(gl, scope)  # the read cache answers at the same version
        token = cache_of(gl).token(text, version, lambda: gl.tokens.check(text))
    if token is None:
        raise AuthError(
            "a valid API token is needed",
            hint="send 'Authorization: Bearer <token>' (greenline token create NAME)",
        )
    access = scope.get(ACCESS_KEY)
    if isinstance(access, dict):
        access["token"] = token.name
    if not token.allows(needed):
        raise ScopeError(
            f"token {token.name!r} has scope {token.scope}; this needs {needed}",
            hint=f"greenline token create NAME --scope {needed}",
        )
    return token


def require(scope: str) -> Callable[..., Awaitable[Token | None]]:
    """A dependency: the caller's token, which must allow ``scope`` (None: an anonymous read
    on a server started with ``--public-read``)."""

    async def check(request: Request, gl: Api) -> Token | None:
        # on the event loop: one indexed read of the token's digest (on SQLite through a
        # kept connection) costs less than the hop to a worker thread would
        public = bool(getattr(request.app.state, "public_read", False))
        return authenticate(gl, request.scope, scope, public)

    return check


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(
            f"cursor {text[:40]!r} is not one this server gave", hint="start over without cursor"
        ) from None
