"""Pull requests as the merge queue sees them on a code host, and what the code host tells it:
a pull request read or changed, CI finished on a pushed tree, a branch moved."""

from __future__ import annotations

from dataclasses import dataclass

#: the label that puts a pull request in greenline's merge queue
QUEUE_LABEL = "greenline:queue"
#: the branches the queue pushes its speculative trees to (one per check run)
QUEUE_BRANCH_PREFIX = "greenline/queue/"


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request: branch ``head_ref`` at ``head_sha``, to land on ``base_ref``."""

    number: int
    title: str
    head_sha: str
    head_ref: str
    base_ref: str
    labels: tuple[str, ...] = ()
    open: bool = True
    merged: bool = False

    @property
    def change_id(self) -> str:
        """Its name in the queue's engine (and in every reason the queue gives)."""
        return change_id_of(self.number)

    @property
    def is_queued_by_label(self) -> bool:
        return QUEUE_LABEL in self.labels


@dataclass(frozen=True, slots=True)
class CiResult:
    """CI finished on commit ``sha`` pushed as ``branch``: passed or not, the tests that
    failed when the CI job uploaded its results, and where a person reads more."""

    branch: str
    sha: str
    passed: bool
    name: str  # the workflow, or the check suite's app
    conclusion: str  # the code host's word (success, failure, timed_out, …)
    ident: str = ""  # the CI system's id of this result (a check suite, a workflow run)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PullEvent:
    """Something happened to a pull request: ``action`` as the code host names it (opened,
    labeled, unlabeled, synchronize, closed, …), ``label`` for (un)labeled."""

    action: str
    pull: PullRequest
    label: str | None = None


@dataclass(frozen=True, slots=True)
class BranchMoved:
    """A branch moved on the code host (``after`` None: deleted)."""

    branch: str
    before: str | None
    after: str | None


def change_id_of(number: int) -> str:
    return f"#{number}"


def number_of(change_id: str) -> int | None:
    """The pull request number of a queue change id (``#12``), or None for a branch's."""
    digits = change_id[1:] if change_id.startswith("#") else ""
    return int(digits) if digits.isdigit() else None


def queue_branch(run_id: str) -> str:
    return f"{QUEUE_BRANCH_PREFIX}{run_id}"


def run_of_branch(branch: str) -> str | None:
    """The run id a queue branch (``greenline/queue/r7``, or ``refs/heads/…``) was pushed for."""
    name = branch.removeprefix("refs/heads/")
    run = name.removeprefix(QUEUE_BRANCH_PREFIX) if name.startswith(QUEUE_BRANCH_PREFIX) else ""
    return run if run and "/" not in run else None
