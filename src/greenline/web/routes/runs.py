"""Runs, their results, tests and a test's history: the same documents as ``--format json``,
lists paged with opaque cursors."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.errors import InputError, UsageError
from greenline.model import CommitInfo, RunStatus
from greenline.web.deps import Api, decode_cursor, encode_cursor, require
from greenline.web.paging import offset_of
from greenline.web.read_cache import cached_read

router = APIRouter(tags=["runs"], dependencies=[Depends(require("read"))])
LIMIT = Query(50, ge=1, le=200, description="Items per page (at most 200).")


@router.get("/runs")
@cached_read
def list_runs(
    gl: Api,
    limit: int = LIMIT,
    cursor: str | None = None,
    status: RunStatus | None = None,
    branch: str | None = None,
) -> dict[str, Any]:
    """Recorded runs, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    before = None
    if cursor:
        started, run_id = _pair(decode_cursor(cursor))
        before = (datetime.fromisoformat(started), run_id)
    found = gl.runs.list_runs(limit=limit + 1, status=status, branch=branch, before=before)
    page = found[:limit]
    doc = views.runs_document(page)
    last = page[-1] if len(found) > limit else None
    doc["next_cursor"] = encode_cursor([last.started_at.isoformat(), last.id]) if last else None
    return doc


def _pair(value: Any) -> tuple[str, int]:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        return value[0], value[1]
    raise UsageError("the cursor is not one this server gave", hint="start over without cursor")


#: how many of a run's results one page holds, unless the request asks for another number
RESULTS_LIMIT = Query(1000, ge=1, le=10_000, description="Results per page (at most 10,000).")


@router.get("/runs/{run_id}")
@cached_read
def get_run(
    run_id: int,
    gl: Api,
    include: str = Query("failures", pattern="^(failures|all|none)$"),
    limit: int = RESULTS_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One run; its failed results (``include=failures``), all of them, or none; the results
    a page at a time (``total``, ``returned``, ``truncated`` and ``next_cursor`` say where
    the page is in them)."""
    doc = views.run_document(*gl.runs.run_with_results(run_id, include))
    if "results" not in doc:
        return doc
    start = offset_of(cursor)
    views.cut_list(doc, "results", limit, start)
    following = doc.pop("next_offset")
    doc.pop("offset")
    doc["next_cursor"] = encode_cursor(following) if following is not None else None
    return doc


@router.get("/tests")
@cached_read
def list_tests(gl: Api, limit: int = LIMIT, cursor: str | None = None) -> dict[str, Any]:
    """Every test across history, by id; paged (the cursor names the page's last test)."""
    after = None
    if cursor:
        after = decode_cursor(cursor)
        if not isinstance(after, str):
            raise UsageError(
                "the cursor is not one this server gave", hint="start over without cursor"
            )
    summaries = gl.runs.list_tests(after=after, limit=limit + 1)
    doc = views.tests_document(summaries[:limit])
    more = len(summaries) > limit
    doc["next_cursor"] = encode_cursor(summaries[limit - 1].test_id) if more else None
    return doc


@router.get("/tests/{test_id:path}/history")
@cached_read
def test_history(
    test_id: str, gl: Api, limit: int = LIMIT, cursor: str | None = None
) -> dict[str, Any]:
    """One test's results, newest first; paged."""
    start = offset_of(cursor)
    entries = gl.runs.test_history(test_id, limit=start + limit + 1)
    doc = views.history_document(test_id, entries[start : start + limit])
    doc["next_cursor"] = encode_cursor(start + limit) if len(entries) > start + limit else None
    return doc


#: the largest JUnit XML report one upload takes
MAX_UPLOAD = 64 << 20
upload_router = APIRouter(tags=["runs"], dependencies=[Depends(require("write"))])


@upload_router.post("/runs/junit", status_code=201)
async def upload_junit(
    request: Request, gl: Api, commit: str | None = None, branch: str | None = None
) -> dict[str, Any]:
    """Store a JUnit XML report sent as the request body as one complete run (a CI job's
    results): ``commit`` a revision the server's repository knows, ``branch`` its branch."""
    with tempfile.TemporaryDirectory(prefix="greenline-upload-") as where:
        path = Path(where) / "report.xml"
        size = 0
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise InputError(
                        f"the report is over {MAX_UPLOAD >> 20} MiB",
                        hint="split it: one upload per test job",
                    )
                out.write(chunk)
        info = CommitInfo(sha=commit, branch=branch) if commit or branch else None
        run = await run_in_threadpool(gl.runs.import_junit, [path], info)
    return views.run_document(run, None)
