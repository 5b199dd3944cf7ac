"""Merge-queue values: the changes waiting to land, the check runs on their trees, the events the
queue reacts to and the actions it asks for. The engine (``greenline.mergequeue``) is a pure
function of these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Strategy(enum.StrEnum):
    SERIAL = "serial"  # one change at a time, tested on main
    BATCH_BISECT = "batch-bisect"  # everything waiting as one batch; bisect a failed batch
    OPTIMISTIC = "optimistic"  # speculative trees, window grows on success, halves on failure
    GREENLINE = (
        "greenline"  # pre-check alone, then speculative batches with suspect-first bisection
    )


class Stage(enum.StrEnum):
    PRECHECK = "precheck"  # waiting for (or in) its test alone on main
    GATE = "gate"  # passed alone; waiting for (or in) a tree that would land


class Purpose(enum.StrEnum):
    PRECHECK = "precheck"
    GATE = "gate"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    strategy: Strategy = Strategy.GREENLINE
    runners: int = 4  # check runs at once
    window: int = 8  # speculative trees at once, to start with
    window_floor: int = 1
    window_ceiling: int = 32
    batch: int = 1  # changes per speculative tree (batch-bisect: the most per batch)
    flaky_retries: int = 2  # re-runs of a tree whose failures are all known-flaky tests


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A change waiting to land: a branch at a head commit."""

    change_id: str
    head: str
    added_at: float
    priority: int = 0  # higher lands first
    impacted: frozenset[str] = frozenset()  # tests the change can break (its lane)
    stage: Stage = Stage.PRECHECK
    entered_gate_at: float | None = None
    retries: int = 0  # flaky re-runs spent on it alone


@dataclass(frozen=True, slots=True)
class QueueRun:
    """A check run on one tree: ``base`` (main's commit) with ``changes`` applied in order."""

    run_id: str
    purpose: Purpose
    base: str
    changes: tuple[str, ...]
    started_at: float
    passed: bool | None = None  # None while it runs
    failed_tests: tuple[str, ...] = ()
    retries: int = 0  # flaky re-runs of this same tree before it


@dataclass(frozen=True, slots=True)
class QueueState:
    config: QueueConfig
    base: str  # main's commit when the queue last saw it move by itself
    landed: tuple[str, ...] = ()  # changes landed on ``base`` since, in order
    entries: tuple[QueueEntry, ...] = ()
    runs: tuple[QueueRun, ...] = ()
    window: int = 0  # 0: the config's starting window
    paused: bool = False
    next_run: int = 1
    flaky_tests: frozenset[str] = frozenset()
    # a real failure being narrowed down: the shortest gate tree known to fail, its failed
    # tests and run, and the shorter tree tried next (0: none)
    failing: int = 0
    failing_tests: tuple[str, ...] = ()
    failing_run: str | None = None
    probe: int = 0

    def entry(self, change_id: str) -> QueueEntry | None:
        return next((e for e in self.entries if e.change_id == change_id), None)


# -- events ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Added:
    entry: QueueEntry


@dataclass(frozen=True, slots=True)
class Removed:
    change_id: str
    reason: str = "removed by hand"


@dataclass(frozen=True, slots=True)
class RunFinished:
    run_id: str
    passed: bool
    failed_tests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MainMoved:
    """Main changed outside the queue (or a landing found it moved): every tree is stale."""

    base: str


@dataclass(frozen=True, slots=True)
class Paused:
    pass


@dataclass(frozen=True, slots=True)
class Resumed:
    pass


@dataclass(frozen=True, slots=True)
class Restarted:
    """The queue's process started again: runs it had started are gone and run again."""


@dataclass(frozen=True, slots=True)
class FlakyTestsKnown:
    """The flaky capability's verdicts: failures only in these tests are re-run, not blamed."""

    tests: frozenset[str]


Event = Added | Removed | RunFinished | MainMoved | Paused | Resumed | Restarted | FlakyTestsKnown


# -- actions --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartRun:
    run: QueueRun
    tests_first: tuple[str, ...] = ()  # the new changes' impacted tests: run them first


@dataclass(frozen=True, slots=True)
class CancelRun:
    run_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Land:
    """Fast-forward main to the tree ``run_id`` tested (it passed): ``changes`` land."""

    run_id: str
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Eject:
    change_id: str
    reason: str
    run_id: str | None = None
    failed_tests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportFlaky:
    run_id: str
    tests: tuple[str, ...]
    reason: str = field(default="failed only in known-flaky tests; re-run before blaming anyone")


Action = StartRun | CancelRun | Land | Eject | ReportFlaky
