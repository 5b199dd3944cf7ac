"""Flaky tests, one test's explanation, and quarantine (list, add, release)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from greenline import views
from greenline.web.deps import Api, require
from greenline.web.paging import CURSOR, LIMIT, page
from greenline.web.read_cache import cached_read

router = APIRouter(tags=["flaky"])
READ = [Depends(require("read"))]
WRITE = [Depends(require("write"))]


class QuarantineRequest(BaseModel):
    test_id: str = Field(min_length=1, max_length=4096)
    reason: str = Field(min_length=1, max_length=2000)
    owner: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None


@router.get("/flaky", dependencies=READ)
@cached_read
def list_flaky(gl: Api, limit: int = LIMIT, cursor: str | None = CURSOR) -> dict[str, Any]:
    """Flaky and failing tests from history, most CI time lost first (paged), and every test
    in quarantine."""
    verdicts, quarantined = gl.flaky.listing()
    shown, next_cursor = page(verdicts, limit, cursor)  # only the page's tests become views
    return views.flaky_document(shown, quarantined) | {"next_cursor": next_cursor}


@router.get("/flaky/{test_id:path}", dependencies=READ)
def explain_flaky(test_id: str, gl: Api) -> dict[str, Any]:
    """One test's verdict, evidence, newest scan and quarantine history."""
    verdict, entries = gl.flaky.explain(test_id)
    return views.flaky_explanation_document(verdict, entries, gl.flaky.scanned_verdict(test_id))


@router.get("/quarantine", dependencies=READ)
@cached_read
def list_quarantine(gl: Api, limit: int = LIMIT, cursor: str | None = CURSOR) -> dict[str, Any]:
    """The tests in quarantine (paged)."""
    entries, next_cursor = page(gl.flaky.quarantine_list(), limit, cursor)
    return {
        "schema": "greenline.quarantine-list/1",
        "tests": [views.quarantine_view(e) for e in entries],
        "next_cursor": next_cursor,
    }


@router.post("/quarantine", dependencies=WRITE, status_code=201)
def add_quarantine(body: QuarantineRequest, gl: Api) -> dict[str, Any]:
    """Quarantine a test the store knows: its failures stop failing the build."""
    entry = gl.flaky.quarantine(body.test_id, body.reason, body.owner, body.expires_at)
    return views.quarantine_document(entry)


@router.delete("/quarantine/{test_id:path}", dependencies=WRITE)
def release_quarantine(test_id: str, gl: Api) -> dict[str, Any]:
    released = gl.flaky.release(test_id, "released through the API")
    return {"schema": "greenline.quarantine-release/1", "test_id": test_id, "released": released}
