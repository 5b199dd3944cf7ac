"""CI workflow runs and their jobs, normalised across providers (GitHub Actions, CircleCI,
greenline's own recorded runs) for delivery insights."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


def utc_naive(when: datetime) -> datetime:
    """The warehouse keeps UTC times without a zone (DuckDB's zone-aware type needs an
    extension this machine may not have)."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


class Conclusion(enum.StrEnum):
    """How a workflow run or job ended, in one vocabulary for every provider."""

    SUCCESS = "success"
    FAILURE = "failure"  # the checks failed (timeouts included)
    INFRA_FAILURE = "infra_failure"  # the CI system failed to run them (start-up, runner lost)
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # never ran (path filters, conditions, manual approval)
    RUNNING = "running"  # not finished when it was ingested

    @property
    def is_failure(self) -> bool:
        return self in (Conclusion.FAILURE, Conclusion.INFRA_FAILURE)

    @property
    def is_outcome(self) -> bool:
        """Whether it counts in success rates and recovery: it ran and ended, not cancelled."""
        return self in (Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.INFRA_FAILURE)


@dataclass(frozen=True, slots=True)
class WorkflowRun:
    """One attempt of one workflow run. ``(provider, repository, run_id, attempt)`` is its key:
    ingesting it again replaces it (a run seen running, then finished)."""

    provider: str  # "github", "circleci", "greenline"
    repository: str  # "owner/name"
    workflow: str
    run_id: str
    attempt: int
    branch: str
    default_branch: bool
    conclusion: Conclusion
    created_at: datetime  # timezone-aware, UTC
    started_at: datetime | None
    finished_at: datetime | None
    event: str = ""  # push, pull_request, schedule, …
    commit: str = ""
    #: what identifies the workflow when its name does not (GitHub: its file's path, as two
    #: files may both be named ``CI``); empty: the name is the identity
    workflow_id: str = ""

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class WorkflowJob:
    """One job of one workflow run attempt."""

    provider: str
    repository: str
    run_id: str
    attempt: int
    job_id: str
    name: str
    conclusion: Conclusion
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class IngestProblem:
    """A record that could not be read: where it is and why; the rest is ingested."""

    location: str  # "runs.json: workflow_runs[3]"
    reason: str


@dataclass(frozen=True, slots=True)
class IngestBatch:
    runs: list[WorkflowRun]
    jobs: list[WorkflowJob]
    problems: list[IngestProblem]
