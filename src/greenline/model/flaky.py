"""Flaky tests: the verdict on a test, its likely cause, the evidence, and quarantine entries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from greenline.model.runs import Outcome


class Verdict(enum.StrEnum):
    FLAKY = "flaky"  # passed and failed with nothing that explains it
    STABLE = "stable"  # every run agreed
    FAILING = "failing"  # fails every time: a real failure, not a flake


class FlakyCategory(enum.StrEnum):
    """Why a test flakes (the root cause classes of the flaky-test literature)."""

    ORDER_DEPENDENT = "order-dependent"
    RANDOMNESS = "randomness"
    TIME = "time"
    TIMING = "timing"  # a threshold on how long something took: load decides it
    NETWORK = "network"
    CONCURRENCY = "concurrency"
    ASYNC_WAIT = "async-wait"
    RESOURCE_LEAK = "resource-leak"
    FLOATING_POINT = "floating-point"
    UNORDERED_COLLECTION = "unordered-collection"
    IO = "io"
    PLATFORM = "platform"
    UNKNOWN = "unknown"


class EvidenceKind(enum.StrEnum):
    SAME_CODE = "same-code"  # passed and failed on one commit, tree and environment
    PASSED_ON_RETRY = "passed-on-retry"  # failed, then passed within one run
    FLIPS = "flips"  # alternates between passing and failing across runs
    FAILURE_MESSAGE = "failure-message"  # what its failures say points to a cause
    ALWAYS_FAILED = "always-failed"  # failed every run it took part in: a real failure
    RERUNS = "reruns"  # controlled reruns gave both outcomes
    ORDER = "order"  # how the outcome depends on which tests ran before it
    POLLUTER = "polluter"  # running these tests first makes it fail
    CLEANER = "cleaner"  # running these between the polluter and it makes it pass
    EXPERIMENT = "experiment"  # a controlled condition made it agree with itself
    OBSERVED = "observed"  # what the test touched when it ran alone (clock, sockets, threads)


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: EvidenceKind
    detail: str
    run_ids: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Observation:
    """One attempt of one test in one recorded run, with where the run's code came from."""

    test_id: str
    run_id: int
    started_at: datetime
    sha: str | None
    dirty: bool
    environment: str | None
    attempt: int
    outcome: Outcome
    duration: float
    message: str | None = None


@dataclass(frozen=True, slots=True)
class FlakyVerdict:
    """What greenline concluded about one test, and why."""

    test_id: str
    verdict: Verdict
    category: FlakyCategory
    confidence: float
    evidence: tuple[Evidence, ...]
    runs: int  # recorded runs the verdict looked at
    failures: int  # of them, runs whose first attempt failed
    wasted_seconds: float  # CI time spent on its failed attempts
    polluters: tuple[str, ...] = ()
    cleaners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A test whose failures do not fail the build (under ``--greenline-quarantine``)."""

    test_id: str
    reason: str
    owner: str | None
    created_at: datetime
    expires_at: datetime | None
    released_at: datetime | None = None
    release_reason: str | None = None

    def is_active(self, now: datetime) -> bool:
        if self.released_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at
