"""The flaky board: flaky and failing tests ranked by the CI time their failed attempts cost
(or by the runs they failed), each with its quarantine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from greenline import views
from greenline.errors import UsageError
from greenline.model import FlakyVerdict
from greenline.web.dashboard.render import show
from greenline.web.dashboard.session import Signed
from greenline.web.deps import Api

router = APIRouter(include_in_schema=False)
RANKINGS = {
    "time": lambda v: (-v.wasted_seconds, -v.failures, v.test_id),
    "runs": lambda v: (-v.failures, -v.wasted_seconds, v.test_id),
}


def ranked(verdicts: list[FlakyVerdict], sort: str) -> list[FlakyVerdict]:
    if sort not in RANKINGS:
        raise UsageError(f"sort {sort[:20]!r}: one of {', '.join(RANKINGS)}", hint="sort=time")
    return sorted(verdicts, key=RANKINGS[sort])


@router.get("/flaky")
def flaky_board(request: Request, gl: Api, viewer: Signed, sort: str = "time") -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        tests = ranked(gl.flaky.verdicts(), sort)
        doc = views.flaky_document(tests, gl.flaky.active_quarantine())
        context = {
            "title": "Flaky tests",
            "rest_url": "/api/v1/flaky",
            "sort": sort,
        }
        return doc, context

    return show(request, viewer, "flaky.html", build)
