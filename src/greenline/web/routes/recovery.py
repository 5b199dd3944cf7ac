"""Why main is red, and one run's triage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from greenline import views
from greenline.web.deps import Api, require
from greenline.web.paging import CURSOR, LIMIT, paged

router = APIRouter(tags=["recovery"], dependencies=[Depends(require("read"))])


@router.get("/why-red")
def why_red(gl: Api) -> dict[str, Any]:
    """The default branch: the red streak, the verdicts of its newest run, the culprit search,
    the suggested action (the MCP tool ``why_is_main_red``'s document)."""
    return views.why_red_document(gl.recovery.main_health())


@router.get("/triage/{run_id}")
def triage(run_id: int, gl: Api, limit: int = LIMIT, cursor: str | None = CURSOR) -> dict[str, Any]:
    """A verdict per failing test of the run (paged; the counts and clusters are of all)."""
    return paged(views.triage_document(gl.recovery.triage(run_id)), "verdicts", limit, cursor)
