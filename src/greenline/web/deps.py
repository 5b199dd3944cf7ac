"""What every route depends on: the shared api (one workspace for the server's life) and the
caller's token, checked against the scope the route needs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from greenline.api import Greenline
from greenline.api.tokens import Token
from greenline.errors import GreenlineError, UsageError


class AuthError(GreenlineError):
    """No valid token (401), or one without the scope a route needs (403)."""

    exit_code = 4
    http_status = 401


class ScopeError(AuthError):
    http_status = 403


def api_of(request: Request) -> Greenline:
    gl: Greenline = request.app.state.greenline
    return gl


#: the api as a route parameter
Api = Annotated[Greenline, Depends(api_of)]


def require(scope: str) -> Callable[..., Token]:
    """A dependency: the caller's token, which must allow ``scope``."""

    def check(request: Request, gl: Api) -> Token:
        header = request.headers.get("authorization", "")
        kind, _, text = header.partition(" ")
        token = gl.tokens.check(text.strip()) if kind.lower() == "bearer" else None
        if token is None:
            raise AuthError(
                "a valid API token is needed",
                hint="send 'Authorization: Bearer <token>' (greenline token create NAME)",
            )
        if not token.allows(scope):
            raise ScopeError(
                f"token {token.name!r} has scope {token.scope}; this needs {scope}",
                hint=f"greenline token create NAME --scope {scope}",
            )
        return token

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
