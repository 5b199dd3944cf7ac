"""The merge queue's live state: what is queued, at which stage, what runs for it, and its
journal; the page re-reads its live part every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from greenline.web.dashboard.render import render_page, show, signed_context
from greenline.web.dashboard.session import Signed
from greenline.web.deps import Api

router = APIRouter(include_in_schema=False)
#: how often the page re-reads the queue
REFRESH_MS = 3000


@router.get("/queue")
def queue_page(request: Request, gl: Api, viewer: Signed, fragment: str = "") -> Response:
    if fragment == "live":  # the part the page swaps in when it refreshes
        context = {**signed_context(viewer), "doc": gl.queue.status(), "as_of": _now()}
        return render_page(request, "_queue_live.html", context)

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        return gl.queue.status(), {
            "title": "Merge queue",
            "refresh_ms": REFRESH_MS,
            "as_of": _now(),
        }

    return show(request, viewer, "queue.html", build)


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S UTC")
