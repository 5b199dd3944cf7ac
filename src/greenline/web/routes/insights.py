"""Delivery metrics over the ingested workflow runs: the document of ``greenline insights
metrics --format json``, with the same window options."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from greenline.api.insights import parse_time
from greenline.web.deps import Api, require

router = APIRouter(tags=["insights"], dependencies=[Depends(require("read"))])
#: the longest window, as the CLI's --days
MAX_DAYS = 36_500


class Definitions(StrEnum):
    greenline = "greenline"
    report = "report"


@router.get("/insights/metrics")
async def metrics(
    gl: Api,
    since: str | None = Query(
        None, max_length=64, description="Window start, an ISO date or time (UTC unless zoned)."
    ),
    until: str | None = Query(
        None, max_length=64, description="Window end, exclusive (default: after the newest run)."
    ),
    days: int = Query(30, ge=1, le=MAX_DAYS, description="Window length without since."),
    repository: str | None = Query(None, max_length=255, description="Only this OWNER/REPO."),
    workflow: str | None = Query(None, max_length=255, description="Only this workflow."),
    definitions: Annotated[
        Definitions,
        Query(description="greenline's definitions of success and duration, or the report's."),
    ] = Definitions.greenline,
) -> dict[str, Any]:
    """Throughput, duration, success rate and recovery per branch class and workflow, against
    the previous window and the benchmarks (needs the insights extra: DuckDB)."""
    result: dict[str, Any] = await run_in_threadpool(
        lambda: gl.insights.metrics(
            since=parse_time(since, "since"),
            until=parse_time(until, "until"),
            days=days,
            repository=repository,
            workflow=workflow,
            definitions=definitions.value,
        )
    )
    return result
