"""Workflow runs for the insights tests: one builder, the fields each test varies as keywords."""

from __future__ import annotations

from datetime import datetime

from greenline.model.delivery import Conclusion, WorkflowRun


def workflow_run(
    run_id: str,
    conclusion: Conclusion,
    began: datetime,
    ended: datetime | None,
    *,
    repository: str = "acme/shop",
    workflow: str = "ci",
    branch: str = "main",
    attempt: int = 1,
    created: datetime | None = None,
    workflow_id: str = "",
) -> WorkflowRun:
    """A GitHub run created (at ``created``, or when it began) and started at ``began``, ended
    at ``ended`` if it has."""
    return WorkflowRun(
        provider="github",
        repository=repository,
        workflow=workflow,
        run_id=run_id,
        attempt=attempt,
        branch=branch,
        default_branch=branch == "main",
        conclusion=conclusion,
        created_at=created or began,
        started_at=began,
        finished_at=ended,
        **({"workflow_id": workflow_id} if workflow_id else {}),
    )
