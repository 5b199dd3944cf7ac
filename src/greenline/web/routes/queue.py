"""The merge queue: its status (the document of ``greenline queue status --format json``,
entries paged), and queueing, removing, pausing and resuming (write scope): branches, and
pull requests on the code host (``/queue/pulls``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from greenline.web.deps import Api, require
from greenline.web.paging import CURSOR, DEFAULT_LIMIT, LIMIT, paged

router = APIRouter(tags=["queue"])
READ = [Depends(require("read"))]
WRITE = [Depends(require("write"))]
#: the queue's priorities are 64-bit, as the CLI's --priority
MAX_PRIORITY = 2**63 - 1


class QueueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    branch: str = Field(min_length=1, max_length=255, description="A branch of the repository.")
    priority: int = Field(0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Higher lands first.")


@router.get("/queue", dependencies=READ)
def queue_status(gl: Api, limit: int = LIMIT, cursor: str | None = CURSOR) -> dict[str, Any]:
    """What is queued (in queue order, paged), at which stage, and the latest decisions with
    their reasons."""
    return paged(gl.queue.status(), "entries", limit, cursor)


@router.post("/queue", dependencies=WRITE, status_code=201)
def queue_add(body: QueueRequest, gl: Api) -> dict[str, Any]:
    """Queue a branch at its current head: it is checked alone on main, then lands once its
    exact tree passes (a runner, ``greenline queue run``, does the work)."""
    entry = gl.queue.add(body.branch, body.priority)
    return {"queued": entry.change_id, "head": entry.head, "priority": entry.priority}


class PullRequestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int = Field(ge=1, le=2**31 - 1, description="A pull request on the code host.")
    priority: int = Field(0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Higher lands first.")


@router.post("/queue/pulls", dependencies=WRITE, status_code=201)
def queue_add_pull(body: PullRequestRequest, gl: Api) -> dict[str, Any]:
    """Queue a pull request at its head (as the ``greenline:queue`` label does): its trees are
    pushed as ``greenline/queue/<run>`` for CI, and it lands once its exact tree passes."""
    entry = gl.pull_queue.add(body.number, body.priority)
    return {
        "queued": entry.change_id,
        "pull_request": body.number,
        "head": entry.head,
        "priority": entry.priority,
    }


@router.delete("/queue/pulls/{number}", dependencies=WRITE)
def queue_remove_pull(number: int, gl: Api) -> dict[str, Any]:
    """Take a pull request out of the queue (its trees' branches go); the status after."""
    gl.pull_queue.remove(number)
    return paged(gl.queue.status(), "entries", DEFAULT_LIMIT, None)


@router.delete("/queue/{branch:path}", dependencies=WRITE)
def queue_remove(branch: str, gl: Api) -> dict[str, Any]:
    """Take a branch out of the queue (its running checks stop); the queue's status after."""
    gl.queue.remove(branch)
    return paged(gl.queue.status(), "entries", DEFAULT_LIMIT, None)


@router.post("/queue/pause", dependencies=WRITE)
def queue_pause(gl: Api) -> dict[str, Any]:
    """Stop starting checks and landing (results keep arriving); the queue's status after."""
    gl.queue.pause(True)
    return paged(gl.queue.status(), "entries", DEFAULT_LIMIT, None)


@router.post("/queue/resume", dependencies=WRITE)
def queue_resume(gl: Api) -> dict[str, Any]:
    """Start checking and landing again; the queue's status after."""
    gl.queue.pause(False)
    return paged(gl.queue.status(), "entries", DEFAULT_LIMIT, None)
