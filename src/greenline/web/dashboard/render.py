"""How dashboard pages are answered: Jinja2 templates with autoescaping always on (every test
id, workflow name and message from the store is text, never markup), the JSON twin of a page
when ``?format=json`` asks for it, security headers that keep every request on this server,
and the static files the pages load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from greenline import __version__
from greenline.errors import GreenlineError
from greenline.insights.summary import human_duration, percent
from greenline.views import dump_json
from greenline.web.dashboard.session import Viewer

#: every asset comes from this server; no inline script, no inline style, no framing
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
#: the files under static/ that are served, with their media types
STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def url_of_test(test_id: str) -> str:
    """A test's page: the id as a query value, so no character of it (``/``, ``..``, ``#``,
    ``?``) can change which page is meant."""
    return "/test?" + urlencode({"id": test_id})


def stamp(value: str | datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM`` (UTC as stored)."""
    if value is None:
        return "n/a"
    text = value.isoformat() if isinstance(value, datetime) else value
    return text[:16].replace("T", " ")


def seconds(value: float | None) -> str:
    """A duration; under a second in milliseconds (test runs often take a few)."""
    if value is not None and 0 <= value < 1:
        return f"{value * 1000:.0f}ms"
    return human_duration(value)


def short_sha(value: str | None) -> str:
    return value[:10] if value else "n/a"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("greenline.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        duration=seconds,
        percent=percent,
        stamp=stamp,
        sha=short_sha,
        url_of_test=url_of_test,
        urlquote=lambda s: quote(str(s), safe=""),
    )
    env.globals.update(version=__version__, asset=asset_url)
    return env


def wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json"


def json_twin(request: Request) -> str:
    """This page's address with ``format=json``."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    return request.url.path + "?" + urlencode([*query, ("format", "json")])


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """``template`` with ``context`` and what every page shows (who is signed in, the form
    token, the JSON twin's address)."""
    base = {
        "request_path": request.url.path,
        "json_url": json_twin(request),
        "viewer": None,
        "csrf": "",
        "rest_url": None,
        **context,
    }
    html = environment().get_template(template).render(base)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def answer(
    request: Request, template: str, doc: Mapping[str, Any], context: Mapping[str, Any]
) -> Response:
    """The page, or its JSON twin (``doc``, the same document the page was drawn from)."""
    if wants_json(request):
        return StrictJSONResponse(dict(doc), headers=JSON_HEADERS)
    return render_page(request, template, {"doc": doc, **context})


class StrictJSONResponse(JSONResponse):
    """JSON rendered with ``dump_json``: strictly valid, a non-finite number becomes null."""

    def render(self, content: Any) -> bytes:
        return dump_json(content).encode("utf-8")


@cache
def _static_bytes(name: str) -> bytes:
    return resources.files("greenline.web").joinpath("static", name).read_bytes()


def asset_url(name: str) -> str:
    """A static file's address, with its content hash so a new version is fetched anew."""
    digest = hashlib.sha256(_static_bytes(name)).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def static_file(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _static_bytes(name),
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def signed_context(viewer: Viewer | None) -> dict[str, Any]:
    if viewer is None or not viewer.csrf:  # signed out, or reading a --public-read server
        return {"viewer": None, "can_write": False, "csrf": ""}
    return {"viewer": viewer.token, "can_write": viewer.can_write, "csrf": viewer.csrf}


def error_page(request: Request, viewer: Viewer | None, exc: GreenlineError) -> HTMLResponse:
    """A greenline error as a page: its one line and its hint, with its HTTP status."""
    context = {"message": exc.message, "hint": exc.hint, "status": exc.http_status}
    return render_page(
        request, "error.html", {**signed_context(viewer), **context}, exc.http_status
    )


def show(
    request: Request,
    viewer: Viewer,
    template: str,
    build: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> Response:
    """Build a page's document and context, then answer with the page or its JSON twin; a
    greenline error is an error page (the twin lets it reach the API's error shape)."""
    try:
        doc, context = build()
    except GreenlineError as exc:
        if wants_json(request):
            raise
        return error_page(request, viewer, exc)
    return answer(request, template, doc, {**signed_context(viewer), **context})
