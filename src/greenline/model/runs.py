"""Runs of a test suite and the results of the tests in them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Outcome(enum.StrEnum):
    """How one attempt of one test ended."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"

    @property
    def is_failure(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ERROR)


class Phase(enum.StrEnum):
    """The phase of a test in which it failed (pytest's collect/setup/call/teardown)."""

    COLLECT = "collect"
    SETUP = "setup"
    CALL = "call"
    TEARDOWN = "teardown"


class RunStatus(enum.StrEnum):
    """A run is ``running`` until it ends; only ``complete`` runs count as baselines."""

    RUNNING = "running"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Environment:
    """What the tests ran on; a change here can change any test's outcome."""

    python: str
    platform: str
    packages_hash: str

    @property
    def fingerprint(self) -> str:
        return f"{self.python}|{self.platform}|{self.packages_hash}"


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """Where a run's code came from: commit, branch and whether the work tree had edits."""

    sha: str | None = None
    branch: str | None = None
    dirty: bool = False
    committed_at: datetime | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class TestResult:
    """One attempt of one test in one run."""

    __test__ = False  # not a pytest test class

    test_id: str
    outcome: Outcome
    duration: float = 0.0
    phase: Phase | None = None
    message: str | None = None
    attempt: int = 1
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a suite, tied to a commit and a branch."""

    id: int
    repository: str
    status: RunStatus
    source: str
    started_at: datetime
    finished_at: datetime | None
    commit: CommitInfo
    environment: Environment | None
    counts: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    exit_status: int | None = None
    has_coverage: bool = False
    args: str | None = None

    @property
    def test_count(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Upload:
    """A run a CI job uploads to the team server in batches, known by the client's key."""

    key: str
    run_id: int
    status: RunStatus
    #: sequence numbers of the batches stored so far
    batches: tuple[int, ...] = ()
    results: int = 0
    #: False when the key was known: the start was sent again, the run is the one made then
    created: bool = True


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """What the server did with one batch: stored it, or recognised it as sent before."""

    key: str
    run_id: int
    seq: int
    results: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class TestSummary:
    """A test across the store's history: how often it ran and failed, how long it takes."""

    __test__ = False  # not a pytest test class

    test_id: str
    runs: int
    failures: int
    mean_duration: float
    last_outcome: Outcome
    last_run_id: int
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class TestHistoryEntry:
    """One result of a test, with the run it came from."""

    __test__ = False  # not a pytest test class

    run_id: int
    started_at: datetime
    sha: str | None
    branch: str | None
    result: TestResult


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What ``greenline db prune`` deleted (or, dry, would delete): the runs, the rows of each
    table stored for them, and the store's size before and after."""

    run_ids: tuple[int, ...]
    rows: dict[str, int]
    dry_run: bool
    #: the rule the runs were chosen by, as a person reads it ("beyond the newest 200 runs")
    rule: str
    vacuumed: bool = False
    bytes_before: int | None = None
    bytes_after: int | None = None
