"""A test's page (its history as a timeline, its durations, its flaky verdict with the
evidence, its quarantine) and the quarantine and release forms, which need a write token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.api import Greenline
from greenline.errors import GreenlineError, NoDataError, UsageError
from greenline.web.dashboard.charts import column_chart
from greenline.web.dashboard.render import error_page, seconds, show, url_of_test
from greenline.web.dashboard.session import Signed, check_write, current_viewer, read_form
from greenline.web.deps import Api

router = APIRouter(include_in_schema=False)
HISTORY = 100
OUTCOME_CSS = {"passed": "ok", "failed": "bad", "error": "bad", "xpassed": "warn"}


def test_document(gl: Greenline, test_id: str) -> dict[str, Any]:
    history = gl.runs.test_history(test_id, limit=HISTORY)
    try:
        verdict, entries = gl.flaky.explain(test_id)
        flaky = views.flaky_explanation_document(
            verdict, entries, gl.flaky.scanned_verdict(test_id)
        )
    except NoDataError:  # recorded, but not in the runs the verdicts look at
        flaky = None
    active = gl.flaky.active_quarantine().get(test_id)
    return {
        "schema": "greenline.dashboard-test/1",
        "test_id": test_id,
        "history": views.history_document(test_id, history),
        "flaky": flaky,
        "quarantine": views.quarantine_view(active) if active else None,
    }


def _durations(doc: dict[str, Any]) -> Any:
    results = list(reversed(doc["history"]["results"]))  # oldest first
    return column_chart(
        [
            (
                r["duration"] or 0.0,
                f"run {r['run_id']} ({r['outcome']}): {r['duration'] or 0:.3f}s",
                OUTCOME_CSS.get(r["outcome"], "other"),
                f"/runs/{r['run_id']}",
            )
            for r in results
        ],
        fmt=seconds,
    )


@router.get("/test")
def test_page(request: Request, gl: Api, viewer: Signed, id: str = "") -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        if not id:
            raise UsageError("which test? the page needs ?id=TEST_ID", hint="pick one on /flaky")
        doc = test_document(gl, id)
        context = {
            "title": id,
            "rest_url": f"/api/v1/tests/{id}/history",
            "durations": _durations(doc),
            "outcome_css": OUTCOME_CSS,
        }
        return doc, context

    return show(request, viewer, "test.html", build)


@router.post("/quarantine")
async def quarantine(request: Request, gl: Api) -> Response:
    """Quarantine the form's test; back to its page."""
    try:
        form = await read_form(request)
        viewer = await run_in_threadpool(check_write, request, gl, form)
        test_id = form.get("test_id", "")
        reason = (
            form.get("reason", "").strip()
            or f"quarantined from the dashboard by {viewer.token.name}"
        )
        owner = form.get("owner", "").strip() or None
        await run_in_threadpool(gl.flaky.quarantine, test_id, reason[:2000], owner)
    except GreenlineError as exc:
        return error_page(request, await run_in_threadpool(current_viewer, request, gl), exc)
    return RedirectResponse(url_of_test(test_id), status_code=303)


@router.post("/quarantine/release")
async def release(request: Request, gl: Api) -> Response:
    """Release the form's test from quarantine; back to its page."""
    try:
        form = await read_form(request)
        viewer = await run_in_threadpool(check_write, request, gl, form)
        test_id = form.get("test_id", "")
        reason = f"released from the dashboard by {viewer.token.name}"
        await run_in_threadpool(gl.flaky.release, test_id, reason)
    except GreenlineError as exc:
        return error_page(request, await run_in_threadpool(current_viewer, request, gl), exc)
    return RedirectResponse(url_of_test(test_id), status_code=303)
