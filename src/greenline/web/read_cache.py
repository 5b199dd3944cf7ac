"""The JSON of read routes, kept while the store is unchanged.

Dashboards, CI jobs and agents ask the same pages again and again (the runs, the flaky board,
a test's history, the plan of a CI job's change for each of its shards); between two writes
the answer is the same bytes. A route marked ``@cached_read`` is answered from here when the
store's data version (``Store.data_version``: it changes with every commit, by anyone) is the
one the answer was computed at, and the answer is younger than ``MAX_AGE`` seconds (a view
that reads the clock, such as a quarantine's expiry or "red for 2 hours", is at most that
late). A kept answer is sent from the event loop; only a new one is computed in a worker
thread (with dozens of requests at once, every thread hop waits on the others for the GIL).
The token is checked on every request before this: a revoked token never reads a kept answer.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from typing import Any

from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from greenline.api import Greenline
from greenline.api.tokens import Token, digest_of

#: how long a kept answer is used at most, whatever the store says (seconds)
MAX_AGE = 5.0
#: answers kept per server process, and the largest one kept (bytes)
MAX_ENTRIES = 256
MAX_BYTES = 2 << 20

#: the bytes FastAPI writes for a returned document (the same serializer)
_DOCUMENT = TypeAdapter(dict[str, Any])


class ReadCache:
    """Rendered answers of one server's api, by route and parameters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[str, float, bytes]] = OrderedDict()
        self._tokens: OrderedDict[str, tuple[str, float, Token | None]] = OrderedDict()

    def kept(self, key: Hashable, version: str | None) -> bytes | None:
        """The answer kept for ``key`` at store version ``version``, if it is young enough."""
        if version is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version or time.monotonic() - entry[1] >= MAX_AGE:
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def render(
        self, gl: Greenline, key: Hashable, version: str | None, document: Callable[[], Any]
    ) -> bytes:
        """The answer computed now (at ``version``, read just before), kept when nothing was
        committed while it was computed: it is then the answer at ``version`` exactly."""
        started = time.monotonic()
        body = _DOCUMENT.dump_json(document())
        if version is not None and len(body) <= MAX_BYTES and gl.store.data_version() == version:
            with self._lock:
                _keep(self._entries, key, (version, started, body))
        return body

    def token(
        self, text: str, version: str | None, check: Callable[[], Token | None]
    ) -> Token | None:
        """What the store says of token ``text`` (``check``), asked again only once the store
        changed (a revocation is a commit) or the answer is ``MAX_AGE`` old."""
        key = digest_of(text)
        now = time.monotonic()
        with self._lock:
            entry = self._tokens.get(key)
        fresh = entry is not None and entry[0] == version and now - entry[1] < MAX_AGE
        if version is not None and entry is not None and fresh:
            return entry[2]
        token = check()
        if version is not None:
            with self._lock:
                _keep(self._tokens, key, (version, now, token))
        return token


def _keep(entries: OrderedDict[Any, Any], key: Hashable, entry: Any) -> None:
    """``entry`` as the newest of ``entries``, the oldest dropped past ``MAX_ENTRIES``."""
    entries[key] = entry
    entries.move_to_end(key)
    while len(entries) > MAX_ENTRIES:
        entries.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[Greenline, ReadCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(gl: Greenline) -> ReadCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(gl)
        if cache is None:
            cache = _CACHES[gl] = ReadCache()
        return cache


#: where a request's scope keeps the store's data version its token was checked at
VERSION_KEY = "greenline.data_version"


def version_of(gl: Greenline, scope: MutableMapping[str, Any]) -> str | None:
    """The store's data version for this request: read once (by the token check, which
    runs first), then the same for the rest of it."""
    if VERSION_KEY not in scope:
        scope[VERSION_KEY] = gl.store.data_version()
    version: str | None = scope[VERSION_KEY]
    return version


async def answer(
    gl: Greenline, request: Request, key: Hashable, document: Callable[[], Any]
) -> Response:
    """The kept answer for ``key``, or ``document()`` computed in a worker thread."""
    cache = cache_of(gl)
    version = version_of(gl, request.scope)
    body = cache.kept(key, version)
    if body is None:
        body = await run_in_threadpool(cache.render, gl, key, version, document)
    return Response(body, media_type="application/json")


def cached_read(route: Callable[..., dict[str, Any]]) -> Callable[..., Awaitable[Any]]:
    """A read route (a plain function with the api as its ``gl`` parameter, called by
    FastAPI with keyword arguments) answered from the server's ``ReadCache``; FastAPI reads
    its parameters from the signature given here: ``route``'s, and the request."""

    async def answered(request: Request, **kwargs: Any) -> Response:
        gl = kwargs["gl"]
        assert isinstance(gl, Greenline)
        key = (route.__qualname__, tuple(sorted((k, v) for k, v in kwargs.items() if k != "gl")))
        return await answer(gl, request, key, lambda: route(**kwargs))

    signature = inspect.signature(route, eval_str=True)  # in the route module's names
    if "request" in signature.parameters:
        raise TypeError(f"{route.__qualname__}: a cached read takes no request of its own")
    asking = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    answered.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), asking]
    )
    answered.__name__, answered.__qualname__ = route.__name__, route.__qualname__
    answered.__doc__, answered.__module__ = route.__doc__, route.__module__
    return answered
