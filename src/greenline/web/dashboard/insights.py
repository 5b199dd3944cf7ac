"""Delivery insights: the headline figures against the benchmarks, weekly trends as inline
SVG, the findings and the workflows; and the full offline report (``greenline insights
report``'s page, served as it is: its charts library is inlined, nothing is fetched)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from greenline.errors import GreenlineError, NoDataError
from greenline.insights.summary import INDUSTRY_2026, RECOMMENDED
from greenline.web.dashboard.charts import line_chart
from greenline.web.dashboard.render import HEADERS, error_page, show
from greenline.web.dashboard.session import Signed
from greenline.web.deps import Api

router = APIRouter(include_in_schema=False)
DAYS = Query(30, ge=1, le=3660)
CLASSES = (("default", "default branch", "ok"), ("other", "other branches", "alt"))
#: the report inlines its script and plotly adds styles: allowed there, and nothing else
REPORT_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _weekly(doc: dict[str, Any], key: str, scale: float) -> list[Any]:
    out = []
    for cls, name, css in CLASSES:
        rows = [w for w in doc["weekly"] if w["branch_class"] == cls]
        points = [(w["week"][:10], None if w[key] is None else w[key] * scale) for w in rows]
        if points:
            out.append((name, css, points))
    return out


def trend_charts(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    success = _weekly(doc, "success_rate", 100)
    duration = _weekly(doc, "duration_p50_s", 1 / 60)
    longest = max((v or 0 for *_, pts in duration for _, v in pts), default=0.0)
    return [
        (
            "Success rate (%, weekly)",
            line_chart(
                success,
                top=100,
                rules=[
                    (RECOMMENDED["success_rate_default"] * 100, "90% benchmark"),
                    (INDUSTRY_2026["success_rate_default"] * 100, "2026 median"),
                ],
            ),
        ),
        (
            "Duration P50 (minutes, weekly)",
            line_chart(
                duration,
                top=max(longest, RECOMMENDED["duration_s"] / 60) * 1.1,
                fmt="{:.1f}".format,
                rules=[(RECOMMENDED["duration_s"] / 60, "10-minute benchmark")],
            ),
        ),
    ]


@router.get("/insights")
def insights_page(request: Request, gl: Api, viewer: Signed, days: int = DAYS) -> Response:
    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        context: dict[str, Any] = {"title": "Insights", "days": days, "missing": None}
        try:
            doc = gl.insights.metrics(days=days)
        except NoDataError as exc:
            if request.query_params.get("format") == "json":
                raise
            return {}, {**context, "missing": exc}
        return doc, {**context, "charts": trend_charts(doc)}

    return show(request, viewer, "insights.html", build)


@router.get("/insights/report")
def insights_report(request: Request, gl: Api, viewer: Signed, days: int = DAYS) -> Response:
    """The full delivery report, as ``greenline insights report`` writes it."""
    try:
        from greenline.insights.report import render_report

        page = render_report(gl.insights.metrics(days=days), datetime.now(UTC))
    except GreenlineError as exc:
        return error_page(request, viewer, exc)
    return HTMLResponse(page, headers={**HEADERS, "Content-Security-Policy": REPORT_POLICY})
