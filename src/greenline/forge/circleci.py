"""CircleCI API v2: pipelines, their workflows (the runs) and the workflows' jobs, from saved
response files or fetched live (``next_page_token`` pagination, rate limits as for GitHub).

A workflow takes its branch, commit and trigger from its pipeline, so the pipelines must be
among the files. A job list does not name its workflow: saved job pages carry it as a top-level
``workflow_id`` (``greenline insights fetch circleci --save`` writes them that way).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from greenline.errors import InputError
from greenline.forge.http import ApiClient
from greenline.forge.payloads import (
    RecordError,
    field,
    load_json,
    optional_text,
    read_records,
    text,
    timestamp,
)
from greenline.model.delivery import (
    Conclusion,
    IngestBatch,
    IngestProblem,
    WorkflowJob,
    WorkflowRun,
)

API = "https://circleci.com/api/v2"
TOKEN_ENV = ("GREENLINE_CIRCLECI_TOKEN", "CIRCLECI_TOKEN")
STATUSES = {
    "success": Conclusion.SUCCESS,
    "failed": Conclusion.FAILURE,
    "error": Conclusion.INFRA_FAILURE,
    "unauthorized": Conclusion.INFRA_FAILURE,
    "infrastructure_fail": Conclusion.INFRA_FAILURE,
    "timedout": Conclusion.FAILURE,
    "canceled": Conclusion.CANCELLED,
    "not_run": Conclusion.SKIPPED,
    "blocked": Conclusion.SKIPPED,
    "running": Conclusion.RUNNING,
    "failing": Conclusion.RUNNING,
    "on_hold": Conclusion.RUNNING,
    "queued": Conclusion.RUNNING,
    "not_running": Conclusion.RUNNING,
}


def _status(record: dict[str, Any]) -> Conclusion:
    value = text(record, "status")
    if value not in STATUSES:
        raise RecordError(f"status {value!r} is not one CircleCI gives")
    return STATUSES[value]


def repository_of(slug: str) -> str:
    """``gh/owner/repo`` (or ``github/…``, ``bb/…``, ``circleci/org-id/project-id``) to
    ``owner/repo``."""
    parts = slug.split("/")
    if len(parts) != 3:
        raise RecordError(f"project_slug {slug!r} is not VCS/OWNER/REPO")
    return f"{parts[1]}/{parts[2]}"


def read_pipeline(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": text(record, "id"),
        "branch": optional_text(record, "vcs", "branch")
        or optional_text(record, "vcs", "tag")
        or "",
        "commit": optional_text(record, "vcs", "revision") or "",
        "event": optional_text(record, "trigger", "type") or "",
    }


def read_workflow(
    record: dict[str, Any], pipelines: dict[str, dict[str, Any]], default_branch: str
) -> WorkflowRun:
    pipeline_id = text(record, "pipeline_id")
    pipeline = pipelines.get(pipeline_id)
    if pipeline is None:
        raise RecordError(f"its pipeline {pipeline_id} is in none of the files")
    created = timestamp(record, "created_at")
    assert created is not None
    conclusion = _status(record)
    stopped = timestamp(record, "stopped_at", required=False)
    return WorkflowRun(
        provider="circleci",
        repository=repository_of(text(record, "project_slug")),
        workflow=text(record, "name"),
        run_id=text(record, "id"),
        attempt=1,  # a rerun is a new workflow (new id) in the same pipeline
        branch=pipeline["branch"],
        default_branch=pipeline["branch"] == default_branch,
        conclusion=conclusion,
        created_at=created,
        started_at=created,
        finished_at=stopped if conclusion is not Conclusion.RUNNING else None,
        event=pipeline["event"],
        commit=pipeline["commit"],
    )


def read_job(record: dict[str, Any], workflow_id: str) -> WorkflowJob:
    return WorkflowJob(
        provider="circleci",
        repository=repository_of(text(record, "project_slug")),
        run_id=workflow_id,
        attempt=1,
        job_id=text(record, "id"),
        name=text(record, "name"),
        conclusion=_status(record),
        started_at=timestamp(record, "started_at", required=False),
        finished_at=timestamp(record, "stopped_at", required=False),
    )


def _kind(items: list[Any]) -> str:
    first = next((i for i in items if isinstance(i, dict)), {})
    if "vcs" in first or "trigger" in first:
        return "pipelines"
    if "pipeline_id" in first:
        return "workflows"
    if "job_number" in first or "dependencies" in first or "type" in first:
        return "jobs"
    return "unknown"


def read_pages(pages: list[tuple[str, Any]], default_branch: str | None = None) -> IngestBatch:
    """Pages of pipelines, workflows and jobs, in any order: (location, parsed body)."""
    problems: list[IngestProblem] = []
    pipelines: dict[str, dict[str, Any]] = {}
    workflows: list[tuple[str, list[Any]]] = []
    job_pages: list[tuple[str, list[Any], str]] = []
    for location, doc in pages:
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise InputError(
                f"{location}: not a CircleCI API v2 list response (no items)",
                hint="save the bodies of /project/SLUG/pipeline, /pipeline/ID/workflow and "
                "/workflow/ID/job",
            )
        kind = _kind(items)
        if kind == "pipelines":
            for p in read_records(items, f"{location}: items", read_pipeline, problems):
                pipelines[p["id"]] = p
        elif kind == "workflows":
            workflows.append((location, items))
        elif kind == "jobs":
            workflow_id = doc.get("workflow_id")
            if not isinstance(workflow_id, str):
                problems.append(
                    IngestProblem(location, "a job list without its workflow_id is skipped")
                )
                continue
            job_pages.append((location, items, workflow_id))
        elif items:
            problems.append(IngestProblem(location, "neither pipelines, workflows nor jobs"))
    branch = default_branch or "main"
    runs: list[WorkflowRun] = []
    for location, items in workflows:
        runs += read_records(
            items, f"{location}: items", lambda r: read_workflow(r, pipelines, branch), problems
        )
    jobs: list[WorkflowJob] = []
    for location, items, workflow_id in job_pages:
        jobs += read_records(items, f"{location}: items", partial(_job_of, workflow_id), problems)
    return IngestBatch(runs, jobs, problems)


def _job_of(workflow_id: str, record: dict[str, Any]) -> WorkflowJob:
    return read_job(record, workflow_id)


def read_files(paths: list[Path], default_branch: str | None = None) -> IngestBatch:
    return read_pages([(p.name, load_json(p)) for p in paths], default_branch)


class CircleClient(ApiClient):
    """CircleCI's API v2: pages followed by ``next_page_token``."""

    name = "CircleCI"
    api = API
    token_hint = f"set {TOKEN_ENV[0]} to a personal API token"

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Accept": "application/json", **({"Circle-Token": token} if token else {})}

    def pages(self, url: str, params: dict[str, str] | None = None) -> Iterator[Any]:
        token: str | None = None
        while True:
            query = dict(params or {})
            if token:
                query["page-token"] = token
            doc = self.get(url, query).json()
            yield doc
            token = doc.get("next_page_token") if isinstance(doc, dict) else None
            if not token:
                return


def fetch(
    client: CircleClient,
    slug: str,
    since: datetime | None,
    *,
    with_jobs: bool = True,
    save: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestBatch:
    """The project's pipelines back to ``since`` (all when None), their workflows and jobs."""
    if slug.count("/") != 2:
        raise InputError(f"{slug!r} is not a project slug", hint="e.g. gh/octo-org/octo-repo")
    project = client.get(f"/project/{slug}").json()
    default_branch = str(field(project, "vcs_info", "default_branch")) if project else None
    pages: list[tuple[str, Any]] = []
    workflows = 0
    for n, doc in enumerate(client.pages(f"/project/{slug}/pipeline")):
        items = doc.get("items", [])
        fresh = [p for p in items if since is None or _created(p) >= since]
        pages.append((f"{slug} pipelines page {n + 1}", {"items": fresh}))
        for pipeline in fresh:
            if not isinstance(pipeline, dict) or not isinstance(pipeline.get("id"), str):
                continue  # nothing to follow: reading the page reports the record
            for m, wdoc in enumerate(client.pages(f"/pipeline/{pipeline['id']}/workflow")):
                pages.append((f"pipeline {pipeline['id']} workflows page {m + 1}", wdoc))
                workflows += len(wdoc.get("items", []))
                if not with_jobs:
                    continue
                for workflow in wdoc.get("items", []):
                    if not isinstance(workflow, dict) or not isinstance(workflow.get("id"), str):
                        continue
                    for k, jdoc in enumerate(client.pages(f"/workflow/{workflow['id']}/job")):
                        jdoc = {**jdoc, "workflow_id": workflow["id"]}
                        pages.append((f"workflow {workflow['id']} jobs page {k + 1}", jdoc))
        if progress:
            progress(workflows)
        if len(fresh) < len(items):
            break  # pipelines come newest first: the rest are older than since
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for i, (_, doc) in enumerate(pages):
            (save / f"circleci-{i:05d}.json").write_text(json.dumps(doc), encoding="utf-8")
    return read_pages(pages, default_branch)


def _created(pipeline: Any) -> datetime:
    """When a pipeline was created; an unreadable one counts as new, so that reading it
    reports it (with its location) instead of ending the fetch."""
    try:
        value = timestamp(pipeline, "created_at") if isinstance(pipeline, dict) else None
    except RecordError:
        value = None
    return value or datetime.max.replace(tzinfo=UTC)
