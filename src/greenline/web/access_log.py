"""The access log: one JSON line per request (time, method, path, masked query, status,
duration in milliseconds, client, and the name of the token it came with: never its text).

An ASGI middleware rather than uvicorn's access log, which prints query strings as sent: a
token pasted into a URL would be written down."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenline.web.deps import ACCESS_KEY

LOGGER = "greenline.access"
MASK = "***"
#: query parameters whose values are secrets whatever they look like
_SECRET_NAME = re.compile(r"(?i)token|secret|passw|pwd|auth|key|credential|signature|sig$")
#: values that look like secrets wherever they are: greenline tokens, bearer credentials, JWTs
_SECRET_VALUE = re.compile(
    r"glt_[A-Za-z0-9_-]+|(?i:bearer)\s+\S+|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)


def mask_text(text: str) -> str:
    """``text`` with every token-like value in it replaced by ``***``."""
    return _SECRET_VALUE.sub(MASK, text)


def mask_query(query: str) -> str:
    """A query string with the values of secret-named parameters and anything token-like
    masked (a query that does not parse is masked as text)."""
    if not query:
        return ""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return mask_text(query)
    masked = [(k, MASK if _SECRET_NAME.search(k) else mask_text(v)) for k, v in pairs]
    return urlencode(masked, safe="*/:")


class AccessLog:
    """Writes one line per HTTP request to the ``greenline.access`` logger at INFO."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger(LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        access: dict[str, Any] = {"token": None, "status": 500, "logged": False}
        scope[ACCESS_KEY] = access

        def write() -> None:
            if not access["logged"]:
                access["logged"] = True
                self.logger.info(self.line(scope, access, time.perf_counter() - started))

        async def note(message: Message) -> None:
            if message["type"] == "http.response.start":
                access["status"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                write()  # before the last byte leaves: the line is there once the client has it
            await send(message)

        try:
            await self.app(scope, receive, note)
        finally:
            write()

    @staticmethod
    def line(scope: Scope, access: dict[str, Any], seconds: float) -> str:
        client = scope.get("client")
        return json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": scope.get("method"),
                "path": mask_text(scope.get("path", "")),
                "query": mask_query(scope.get("query_string", b"").decode("latin-1")),
                "status": access["status"],
                "duration_ms": round(seconds * 1000, 2),
                "token": access["token"],
                "client": client[0] if client else None,
            }
        )


def configure_access_log(stream: Any = None) -> None:
    """Send the access log's lines, as they are, to stderr (or ``stream``): once per process."""
    logger = logging.getLogger(LOGGER)
    if any(getattr(h, "greenline", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.greenline = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
