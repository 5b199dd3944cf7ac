"""The overview of the repository's main branch: its success rate and time to green over its
recent runs, the red streak now (with what triage says of it), and the flaky tests costing the
most CI time."""

from __future__ import annotations

import statistics
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from greenline import views
from greenline.api import Greenline
from greenline.api.recovery_triage import is_green
from greenline.model import Run, RunStatus
from greenline.model.flaky import Verdict
from greenline.web.dashboard.charts import column_chart
from greenline.web.dashboard.render import seconds, show
from greenline.web.dashboard.session import Signed
from greenline.web.deps import Api

router = APIRouter(include_in_schema=False)
#: the main branch's figures cover this many of its newest complete runs
RECENT = 100
COSTLIEST = 8
#: triage's verdicts, the ones to act on first
KIND_ORDER = (
    "regression",
    "setup",
    "infra",
    "already-failing",
    "suspect-flaky",
    "flaky",
    "quarantined",
    "unknown",
)


def branch_figures(runs: list[Run]) -> dict[str, Any]:
    """Success rate and time to green over ``runs`` (newest first): a streak turns red at the
    end of a failing run and green at the end of the next passing one."""
    ordered = list(reversed(runs))
    recoveries: list[float] = []
    red_at = None
    for run in ordered:
        ended = run.finished_at or run.started_at
        if not is_green(run):
            red_at = red_at or ended
        elif red_at is not None:
            recoveries.append(max((ended - red_at).total_seconds(), 0.0))
            red_at = None
    green = sum(is_green(r) for r in runs)
    return {
        "runs": len(runs),
        "green_runs": green,
        "success_rate": round(green / len(runs), 4) if runs else None,
        "time_to_green_s": round(statistics.median(recoveries), 1) if recoveries else None,
        "recoveries": len(recoveries),
        "recent": [
            {
                "id": r.id,
                "green": is_green(r),
                "started_at": r.started_at.isoformat(),
                "sha": r.commit.sha,
                "duration": r.duration,
            }
            for r in ordered[-40:]
        ],
    }


def overview_document(gl: Greenline) -> dict[str, Any]:
    health = gl.recovery.main_health()
    runs = gl.runs.list_runs(limit=RECENT, branch=health.branch, status=RunStatus.COMPLETE)
    flaky = [v for v in gl.flaky.verdicts() if v.verdict is Verdict.FLAKY]
    flaky.sort(key=lambda v: (-v.wasted_seconds, -v.failures, v.test_id))
    return {
        "schema": "greenline.dashboard-overview/1",
        "repository": gl.repository,
        "branch": health.branch,
        **branch_figures(runs),
        "why_red": views.why_red_document(health),
        "costliest_flaky": [views.flaky_verdict_view(v) for v in flaky[:COSTLIEST]],
        "flaky_tests": len(flaky),
        "flaky_seconds": round(sum(v.wasted_seconds for v in flaky), 3),
        "quarantined": len(gl.flaky.active_quarantine()),
    }


def _charts(doc: dict[str, Any]) -> dict[str, Any]:
    strip = column_chart(
        [
            (
                max(r["duration"] or 0.0, 0.0),
                f"run {r['id']}: {'green' if r['green'] else 'red'}",
                "ok" if r["green"] else "bad",
                f"/runs/{r['id']}",
            )
            for r in doc["recent"]
        ],
        height=110,
        fmt=seconds,
    )
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    verdicts = sorted(doc["why_red"]["verdicts"].items(), key=lambda kv: order.get(kv[0], 99))
    return {"strip": strip, "red_verdicts": verdicts}


@router.get("/")
def overview(request: Request, gl: Api, viewer: Signed) -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        doc = overview_document(gl)
        return doc, {"title": "Overview", "rest_url": "/api/v1/why-red", **_charts(doc)}

    return show(request, viewer, "overview.html", build)
