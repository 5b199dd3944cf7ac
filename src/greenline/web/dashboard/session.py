"""Who is looking at the dashboard: the API token a login form put in an HttpOnly,
SameSite=Strict cookie, checked on every request like a bearer token; the form token that
every write form carries (derived from the cookie's token, so another site can neither read
nor forge it); and the origin check that refuses a form posted from elsewhere."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends, HTTPException, Request

from greenline.api.tokens import Token
from greenline.errors import InputError, UsageError
from greenline.web.deps import Api, AuthError, ScopeError

COOKIE = "greenline_session"
#: a signed-in browser stays signed in this long (the token itself may live longer)
COOKIE_AGE = 12 * 3600
#: the largest form body the dashboard reads
FORM_LIMIT = 64 << 10
LOGIN_HINT = "sign in at /login with a token from: greenline token create NAME --scope read"


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in browser: its token's record and the form token its forms carry."""

    token: Token
    csrf: str

    @property
    def can_write(self) -> bool:
        return self.token.allows("write")


def csrf_of(text: str) -> str:
    """The form token for a session token: only a page that was given it knows it."""
    return hmac.new(text.encode("utf-8"), b"greenline dashboard form", hashlib.sha256).hexdigest()


def current_viewer(request: Request, gl: Api) -> Viewer | None:
    text = request.cookies.get(COOKIE, "")
    token = gl.tokens.check(text) if text else None
    return Viewer(token, csrf_of(text)) if token is not None else None


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": target})


#: who reads the pages of a server started with --public-read without signing in
PUBLIC = Token("public (not signed in)", "read", datetime.fromtimestamp(0, UTC))


def viewer(request: Request, gl: Api) -> Viewer:
    """A dependency: the signed-in viewer (on a server started with ``--public-read``, anyone
    may read without signing in); a page asks the browser to sign in first, a JSON twin
    answers 401 in the API's error shape."""
    found = current_viewer(request, gl)
    if found is not None:
        return found
    if request.method == "GET" and getattr(request.app.state, "public_read", False):
        return Viewer(PUBLIC, "")  # no form token: no write form works without signing in
    if request.query_params.get("format") == "json" or request.method != "GET":
        raise AuthError("a valid API token is needed", hint=LOGIN_HINT)
    raise HTTPException(303, "sign in first", headers={"Location": login_url(request)})


#: the signed-in viewer as a route parameter
Signed = Annotated[Viewer, Depends(viewer)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def check_origin(request: Request) -> None:
    """A form posted from a page of another site is refused (browsers name the page's origin
    on every POST; a client that sends none is no browser carrying our cookie)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc != host:
        raise ScopeError(
            f"a form from {origin[:100]!r} cannot act on this server",
            hint="use the dashboard's own pages",
        )


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form body, at most ``FORM_LIMIT`` bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise UsageError(f"a form body is needed, not {kind or 'nothing'!r}", hint="post the form")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise InputError(f"the form is over {FORM_LIMIT >> 10} KiB", hint="send less")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InputError("the form is not valid URL-encoded UTF-8", hint="post the form") from None
    return dict(pairs)


def check_write(request: Request, gl: Api, form: dict[str, str]) -> Viewer:
    """The signed-in viewer of a write form: a write token, the form's token matching it,
    posted from one of our pages."""
    check_origin(request)
    found = current_viewer(request, gl)
    if found is None:
        raise AuthError("a valid API token is needed", hint=LOGIN_HINT)
    if not hmac.compare_digest(form.get("csrf", ""), found.csrf):
        raise ScopeError(
            "the form's token does not match this session", hint="reload the page and try again"
        )
    if not found.can_write:
        raise ScopeError(
            f"token {found.token.name!r} has scope {found.token.scope}; this needs write",
            hint="sign in with a token from: greenline token create NAME --scope write",
        )
    return found
