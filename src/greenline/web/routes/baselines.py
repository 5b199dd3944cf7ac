"""Baselines as files: ``GET`` exports a recorded run as ``greenline baseline export`` writes
it (gzipped JSON), ``POST`` imports one (write scope), checked as ``baseline import`` checks."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from greenline import views
from greenline.api import Greenline
from greenline.web.bodies import spool_body
from greenline.web.deps import Api, require

router = APIRouter(tags=["baselines"])
#: the largest baseline file an import takes, compressed (it may expand to 128 MiB)
MAX_IMPORT = 32 << 20
GZIP = "application/gzip"


def _export(gl: Greenline, where: Path, run_id: int | None, at: str | None) -> Path:
    if run_id is None and at is not None:
        run_id = gl.selection.find_baseline(within=at).id
    run = gl.runs.get_run(run_id) if run_id is not None else gl.selection.find_baseline()
    path = where / f"baseline-{(run.commit.sha or 'run')[:12]}-{run.id}.json.gz"
    gl.baselines.export(path, run.id)
    return path


@router.get(
    "/baselines/export",
    dependencies=[Depends(require("read"))],
    response_class=FileResponse,
    responses={200: {"content": {GZIP: {}}, "description": "The baseline file."}},
)
async def export_baseline(
    gl: Api,
    run: int | None = Query(None, ge=1, description="This run (default: the current baseline)."),
    at: str | None = Query(
        None, max_length=256, description="The newest baseline at this commit or an ancestor."
    ),
) -> FileResponse:
    """A baseline run's results and per-test coverage as a file (``greenline baseline import``
    stores it elsewhere): run ``run``, the newest baseline at ``at`` or one of its ancestors, or
    the one ``greenline select`` would use on the server's checkout."""
    where = Path(tempfile.mkdtemp(prefix="greenline-export-"))
    try:
        path = await run_in_threadpool(_export, gl, where, run, at)
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=GZIP,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, where, ignore_errors=True),
    )


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {GZIP: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/baselines/import",
    dependencies=[Depends(require("write"))],
    status_code=201,
    openapi_extra=IMPORT_BODY,
    responses={200: {"description": "The same baseline was in the store already."}},
)
async def import_baseline(request: Request, gl: Api) -> Any:
    """Store a baseline file (the request body, as ``greenline baseline export`` wrote it) as
    a complete run: 201 with the new run, 200 with the run already holding it. A file that is
    off in any field, or of a commit the server's repository lacks, stores nothing."""
    with tempfile.TemporaryDirectory(prefix="greenline-import-") as where:
        path = Path(where) / "baseline.json.gz"
        await spool_body(request, path, MAX_IMPORT, "baseline file")
        run, new = await run_in_threadpool(
            gl.baselines.import_file, path, label="the baseline file sent"
        )
    return JSONResponse(views.run_document(run, None), status_code=201 if new else 200)
