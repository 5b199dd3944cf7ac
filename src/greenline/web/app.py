"""The FastAPI application: the api opened once for the server's life, errors as one JSON
shape with the HTTP status of greenline's error tree, the OpenAPI schema at
``/api/v1/openapi.json``, health and readiness, each capability's routes, the MCP server at
``/mcp``, GitHub's webhooks at ``/webhooks/github`` (processed by a worker for the server's
life) and one access-log line per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Route

from greenline import __version__
from greenline.api import Greenline
from greenline.errors import GreenlineError
from greenline.web import dashboard
from greenline.web.access_log import AccessLog
from greenline.web.mcp_mount import PATH as MCP_PATH
from greenline.web.mcp_mount import McpMount
from greenline.web.routes import (
    baselines,
    flaky,
    github,
    insights,
    queue,
    recovery,
    runs,
    selection,
    uploads,
)
from greenline.web.webhooks import WebhookWorker

Opener = Callable[[], Greenline]


def create_app(open_api: Opener, *, public_read: bool = False, host: str = "127.0.0.1") -> FastAPI:
    """The server over the api ``open_api`` opens; ``public_read``: reads need no token (writes
    still need a write token); ``host``: the address it listens on (the MCP server guards a
    loopback one against DNS rebinding)."""
    mcp = McpMount(public_read=public_read, host=host)
    webhooks = WebhookWorker()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.greenline = open_api()
        try:
            async with mcp.running(app.state.greenline), webhooks.running(app.state.greenline):
                yield
        finally:
            app.state.greenline.close()

    app = FastAPI(
        title="greenline",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.public_read = public_read
    app.state.webhooks = webhooks
    app.add_exception_handler(GreenlineError, _greenline_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(AccessLog)

    @app.get("/healthz", tags=["server"])
    def health() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["server"])
    def ready(request: Request) -> JSONResponse:
        """The store answers and its schema is this greenline's."""
        info = request.app.state.greenline.runs.db_info()
        ready = bool(info["up_to_date"])
        body = {"status": "ready" if ready else "store schema is not up to date"}
        return JSONResponse(body, status_code=200 if ready else 503)

    for module in (runs, flaky, recovery, selection, baselines, queue, insights, github):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(github.webhook_router)
    app.include_router(runs.upload_router, prefix="/api/v1")
    app.include_router(uploads.router, prefix="/api/v1")
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp, include_in_schema=False))
    app.include_router(dashboard.router)
    return app


def error_body(code: str, message: str, hint: str | None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "hint": hint}}


async def _greenline_error(request: Request, exc: GreenlineError) -> JSONResponse:
    code = type(exc).__name__.removesuffix("Error").lower() or "error"
    return JSONResponse(error_body(code, exc.message, exc.hint), status_code=exc.http_status)


async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
    return JSONResponse(
        error_body("usage", message, "see /api/v1/docs for the parameters"), status_code=400
    )


#: the error code of a status Starlette answers by itself (no route, a method it lacks)
_HTTP_CODES = {404: "notfound", 405: "method", 413: "toolarge"}


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http")
    hint = "see /api/v1/docs for the routes" if exc.status_code in (404, 405) else None
    body = error_body(code, f"{request.method} {request.url.path}: {exc.detail}", hint)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
