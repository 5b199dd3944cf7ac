"""The runs list (newest first, paged like the REST list) and a run's page: its failures with
the verdict triage gives each of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from greenline import views
from greenline.errors import GreenlineError, NoDataError, UsageError
from greenline.model import RunStatus
from greenline.web.dashboard.render import show
from greenline.web.dashboard.session import Signed
from greenline.web.deps import Api, decode_cursor, encode_cursor

router = APIRouter(include_in_schema=False)
PAGE = 50


def _status(text: str | None) -> RunStatus | None:
    if not text:
        return None
    try:
        return RunStatus(text)
    except ValueError:
        choices = ", ".join(s.value for s in RunStatus)
        raise UsageError(
            f"status {text[:40]!r}: one of {choices}", hint="status=complete"
        ) from None


def _before(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    value = decode_cursor(cursor)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
        try:
            return datetime.fromisoformat(str(value[0])), value[1]
        except ValueError:
            pass
    raise UsageError("the cursor is not one this server gave", hint="start over without cursor")


@router.get("/runs")
def runs_page(
    request: Request,
    gl: Api,
    viewer: Signed,
    cursor: str | None = None,
    status: str | None = None,
    branch: str | None = None,
) -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        found = gl.runs.list_runs(
            limit=PAGE + 1, status=_status(status), branch=branch or None, before=_before(cursor)
        )
        page = found[:PAGE]
        doc = views.runs_document(page)
        last = page[-1] if len(found) > PAGE else None
        doc["next_cursor"] = encode_cursor([last.started_at.isoformat(), last.id]) if last else None
        context = {
            "title": "Runs",
            "rest_url": "/api/v1/runs",
            "status": status or "",
            "branch": branch or "",
            "statuses": [s.value for s in RunStatus],
        }
        return doc, context

    return show(request, viewer, "runs.html", build)


@router.get("/runs/{run_id}")
def run_page(request: Request, gl: Api, viewer: Signed, run_id: int) -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        run, failures = gl.runs.run_with_results(run_id, "failures")
        triage, unavailable = None, None
        if failures:
            try:
                triage = views.triage_document(gl.recovery.triage(run_id))
            except NoDataError:
                pass
            except GreenlineError as exc:  # the page still shows the failures
                unavailable = exc.message
        doc = {
            "schema": "greenline.dashboard-run/1",
            **views.run_document(run, failures),
            "triage": triage,
        }
        verdicts = {v["test_id"]: v for v in (triage or {}).get("verdicts", [])}
        context = {
            "title": f"Run {run_id}",
            "rest_url": f"/api/v1/runs/{run_id}",
            "verdicts": verdicts,
            "triage_unavailable": unavailable,
        }
        return doc, context

    return show(request, viewer, "run.html", build)
