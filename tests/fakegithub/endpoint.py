"""What every endpoint of the fake does around its own work: record the call, answer a forced
response (a rate limit a test asked for), authenticate the caller as GitHub does (an App's JWT,
verified with its public key; an installation token it issued and that has not expired; an
Actions or personal token), find the repository, page a listing with a Link header, and send
the webhooks the change causes once the answer is given."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakegithub import objects
from tests.fakegithub.state import Call, Repository, State, Token

if TYPE_CHECKING:
    from tests.fakegithub.fake import FakeGitHub


class RefusalError(Exception):
    """An error answer: GitHub's status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Context:
    """One request, as an endpoint's work sees it."""

    request: Request
    state: State
    caller: Token | None  # None: the App itself (a JWT)
    repo: Repository | None
    body: Any
    #: webhooks to send once answered: (event, payload)
    events: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request.path_params)

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    @property
    def repository(self) -> Repository:
        assert self.repo is not None
        return self.repo

    def page(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of ``items`` (``per_page``, at most 100; ``page``), with its Link header."""
        try:
            per = min(100, max(1, int(self.query.get("per_page", "30"))))
            number = max(1, int(self.query.get("page", "1")))
        except ValueError:
            raise RefusalError(422, "Invalid request: per_page and page are numbers") from None
        last = max(1, -(-len(items) // per))
        links = []
        base = f"{self.state.url}{self.request.url.path}"
        for rel, n in (("next", number + 1), ("last", last), ("first", 1), ("prev", number - 1)):
            if (rel in ("next", "last") and number < last) or (
                rel in ("first", "prev") and number > 1
            ):
                links.append(
                    f'<{base}?{urlencode({**self.query, "page": n, "per_page": per})}>; rel="{rel}"'
                )
        headers = {"Link": ", ".join(links)} if links else {}
        return items[(number - 1) * per : number * per], headers


Work = Callable[[Context], tuple[int, Any] | tuple[int, Any, dict[str, str]]]


def _bearer(request: Request) -> str | None:
    kind, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if kind.lower() in ("bearer", "token") and value.strip() else None


def _verify_jwt(state: State, value: str) -> None:
    """GitHub's checks of an App's JWT: signed RS256 by the app's key, issued by the app id,
    expiring no more than ten minutes after now, not issued in the future."""
    try:
        claims = jwt.decode(
            value,
            state.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise RefusalError(401, f"A JSON web token could not be decoded ({exc})") from None
    now = time.time()
    if str(claims["iss"]) != str(state.app_id):
        raise RefusalError(401, "'Issuer' claim ('iss') must be an Integer")
    if claims["exp"] > now + 600 + 5:
        raise RefusalError(401, "'Expiration time' claim ('exp') is too far in the future")
    if claims["iat"] > now + 5:
        raise RefusalError(
            401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        )
    state.jwts_verified += 1


def authenticate(state: State, request: Request, auth: str) -> Token | None:
    value = _bearer(request)
    if value is None:
        raise RefusalError(401, "Requires authentication")
    if auth == "jwt":
        _verify_jwt(state, value)
        return None
    token = state.tokens.get(value)
    if token is None or (token.expires is not None and token.expires < time.time()):
        raise RefusalError(401, "Bad credentials")
    return token


def _repository(state: State, request: Request, caller: Token | None) -> Repository | None:
    params = request.path_params
    if "owner" not in params:
        return None
    repo = state.repository(f"{params['owner']}/{params['repo']}")
    if repo is None:
        raise RefusalError(404, "Not Found")
    if (
        caller is not None
        and caller.kind == "installation"
        and (caller.installation_id != repo.installation_id)
    ):
        raise RefusalError(404, "Not Found")  # GitHub hides what a token cannot see
    return repo


def _headers(state: State) -> dict[str, str]:
    used = len(state.calls)
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(max(0, 5000 - used)),
        "x-ratelimit-reset": str(int(time.time()) + 3600),
        "x-ratelimit-resource": "core",
        "x-github-request-id": f"FAKE:{used:08X}",
    }


def endpoint(fake: FakeGitHub, work: Work, *, auth: str = "token") -> Callable[..., Any]:
    """The Starlette endpoint doing ``work`` with what every endpoint does around it."""
    state = fake.state

    async def run(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = Call(request.method, request.url.path, dict(request.query_params), body, "none")
        context = None
        with state.lock:
            state.calls.append(call)
            try:
                if state.forced:
                    status, headers, message = state.forced.pop(0)
                    raise RefusalError(status, message, headers)
                if isinstance(body, str):
                    raise RefusalError(400, "Problems parsing JSON")
                caller = authenticate(state, request, auth)
                call.auth = "jwt" if caller is None else caller.kind
                repo = _repository(state, request, caller)
                context = Context(request, state, caller, repo, body)
                answer = work(context)
            except RefusalError as refusal:
                call.status = refusal.status
                headers = {**_headers(state), **refusal.headers}
                return JSONResponse(
                    objects.error(refusal.message, refusal.status), refusal.status, headers
                )
            status, payload = answer[0], answer[1]
            headers = {**_headers(state), **(answer[2] if len(answer) > 2 else {})}
            call.status = status
        for event, event_payload in context.events:
            fake.send(event, event_payload)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return JSONResponse(payload, status, headers)

    return run
