"""GitHub Actions: workflow runs and jobs from the REST API's JSON, from saved response files or
fetched live (pagination by the Link header, rate limits waited out or reported, incremental
from the newest run already ingested)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from greenline.errors import InputError
from greenline.forge.github_auth import API as API
from greenline.forge.github_auth import HEADERS
from greenline.forge.github_auth import TOKEN_ENV as TOKEN_ENV
from greenline.forge.http import ApiClient
from greenline.forge.payloads import (
    RecordError,
    integer,
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

#: how GitHub's conclusions map onto greenline's (a run not yet completed is RUNNING)
CONCLUSIONS = {
    "success": Conclusion.SUCCESS,
    "failure": Conclusion.FAILURE,
    "timed_out": Conclusion.FAILURE,
    "startup_failure": Conclusion.INFRA_FAILURE,
    "cancelled": Conclusion.CANCELLED,
    "skipped": Conclusion.SKIPPED,
    "neutral": Conclusion.SKIPPED,
    "action_required": Conclusion.SKIPPED,
    "stale": Conclusion.SKIPPED,
}


def _conclusion(record: dict[str, Any]) -> Conclusion:
    if record.get("status") != "completed":
        return Conclusion.RUNNING
    value = record.get("conclusion")
    if value not in CONCLUSIONS:
        raise RecordError(f"conclusion {value!r} is not one GitHub gives for a completed run")
    return CONCLUSIONS[value]


def read_run(record: dict[str, Any], default_branch: str | None) -> WorkflowRun:
    repository = text(record, "repository", "full_name")
    branch = text(record, "head_branch")
    default = optional_text(record, "repository", "default_branch") or default_branch or "main"
    conclusion = _conclusion(record)
    created = timestamp(record, "created_at")
    assert created is not None
    started = timestamp(record, "run_started_at", required=False) or created
    # a completed run's last update is its end (the runs API has no completed_at)
    finished = timestamp(record, "updated_at") if conclusion is not Conclusion.RUNNING else None
    return WorkflowRun(
        provider="github",
        repository=repository,
        workflow=optional_text(record, "name") or text(record, "path"),
        run_id=text(record, "id"),
        attempt=integer(record, "run_attempt", default=1),
        branch=branch,
        default_branch=branch == default,
        conclusion=conclusion,
        created_at=created,
        started_at=started,
        finished_at=finished,
        event=optional_text(record, "event") or "",
        commit=optional_text(record, "head_sha") or "",
        workflow_id=optional_text(record, "path") or optional_text(record, "workflow_id") or "",
    )


def read_job(record: dict[str, Any], repository: str) -> WorkflowJob:
    conclusion = _conclusion(record)
    return WorkflowJob(
        provider="github",
        repository=repository,
        run_id=text(record, "run_id"),
        attempt=integer(record, "run_attempt", default=1),
        job_id=text(record, "id"),
        name=text(record, "name"),
        conclusion=conclusion,
        started_at=timestamp(record, "started_at", required=False),
        finished_at=timestamp(record, "completed_at", required=False),
    )


def _repository_of_job(record: dict[str, Any]) -> str:
    """A job's repository, from its API url (jobs carry no repository object)."""
    url = text(record, "url")
    parts = url.split("/repos/", 1)[-1].split("/")
    if "/repos/" not in url or len(parts) < 2:
        raise RecordError(f"url {url!r} names no repository")
    return f"{parts[0]}/{parts[1]}"


def read_page(
    doc: Any, location: str, default_branch: str | None, problems: list[IngestProblem]
) -> IngestBatch:
    """One response of ``/actions/runs`` (``workflow_runs``) or ``/runs/{id}/jobs`` (``jobs``),
    or a plain list of runs."""
    if isinstance(doc, list):
        doc = {"workflow_runs": doc}
    if not isinstance(doc, dict) or not ("workflow_runs" in doc or "jobs" in doc):
        raise InputError(
            f"{location}: not a GitHub Actions response (no workflow_runs or jobs)",
            hint="save the body of GET /repos/OWNER/REPO/actions/runs or …/runs/ID/jobs",
        )
    runs = read_records(
        doc.get("workflow_runs") or [],
        f"{location}: workflow_runs",
        lambda r: read_run(r, default_branch),
        problems,
    )
    jobs = read_records(
        doc.get("jobs") or [],
        f"{location}: jobs",
        lambda r: read_job(r, _repository_of_job(r)),
        problems,
    )
    return IngestBatch(runs, jobs, problems)


def read_files(paths: list[Path], default_branch: str | None = None) -> IngestBatch:
    runs: list[WorkflowRun] = []
    jobs: list[WorkflowJob] = []
    problems: list[IngestProblem] = []
    for path in paths:
        batch = read_page(load_json(path), path.name, default_branch, problems)
        runs += batch.runs
        jobs += batch.jobs
    return IngestBatch(runs, jobs, problems)


class GitHubClient(ApiClient):
    """GitHub's REST API: pages followed by the Link header."""

    name = "GitHub"
    api = API
    token_hint = f"set {TOKEN_ENV[0]} to a token that can read Actions"

    def headers(self, token: str | None) -> dict[str, str]:
        headers = dict(HEADERS)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def pages(self, url: str, params: dict[str, str]) -> Iterator[Any]:
        next_url: str | None = url
        query: dict[str, str] | None = params
        while next_url:
            response = self.get(next_url, query)
            query = None  # the next link carries them (an empty dict would drop its query)
            yield response.json()
            next_url = response.links.get("next", {}).get("url")


def fetch(
    client: GitHubClient,
    repository: str,
    since: datetime | None,
    *,
    with_jobs: bool = True,
    progress: Callable[[int], None] | None = None,
) -> IngestBatch:
    """The repository's runs created since ``since`` (all when None), with their jobs."""
    if repository.count("/") != 1:
        raise InputError(f"{repository!r} is not OWNER/REPO", hint="e.g. octo-org/octo-repo")
    default_branch = str(client.get(f"/repos/{repository}").json().get("default_branch", "main"))
    params = {"per_page": "100"}
    if since is not None:
        params["created"] = ">=" + since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs: list[WorkflowRun] = []
    jobs: list[WorkflowJob] = []
    problems: list[IngestProblem] = []
    for page, doc in enumerate(client.pages(f"/repos/{repository}/actions/runs", params)):
        batch = read_page(doc, f"{repository} runs page {page + 1}", default_branch, problems)
        runs += batch.runs
        if progress:
            progress(len(runs))
    if with_jobs:
        for run in runs:
            url = f"/repos/{repository}/actions/runs/{run.run_id}/attempts/{run.attempt}/jobs"
            for doc in client.pages(url, {"per_page": "100"}):
                jobs += read_page(doc, f"{repository} run {run.run_id} jobs", None, problems).jobs
    return IngestBatch(runs, jobs, problems)


def overlap_since(newest: datetime | None) -> datetime | None:
    """Where an incremental fetch starts: a day before the newest run ingested, so runs that
    were still going then are fetched again finished (re-ingesting replaces them)."""
    return None if newest is None else newest - timedelta(days=1)
