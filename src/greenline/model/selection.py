"""What a change touches, and which tests a selection runs and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FileStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file a change touches (``old_path`` is set for a rename)."""

    path: str
    status: FileStatus
    old_path: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """Everything between a base commit and the working tree (commits, edits, new files)."""

    base: str
    files: tuple[FileChange, ...]
    #: untracked directories left out of the change, each with why (a virtual environment…)
    ignored: tuple[tuple[str, str], ...] = ()


class ReasonKind(enum.StrEnum):
    """Why a test is selected (or why selection fell back to the full suite)."""

    CHANGED_BLOCK = "changed-block"
    REMOVED_BLOCK = "removed-block"
    NO_COVERAGE = "no-coverage"
    IMPORTS_CHANGED_FILE = "imports-changed-file"
    IMPORT_TIME = "import-time"
    ALWAYS_RUN = "always-run"
    READS_CHANGED_FILE = "reads-changed-file"
    FAILED_LAST_TIME = "failed-last-time"
    NEW_TEST_FILE = "new-test-file"
    FULL_SUITE = "full-suite"


@dataclass(frozen=True, slots=True)
class Reason:
    kind: ReasonKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class SelectedTest:
    """A test the plan runs, its reasons, and what the history says of it."""

    test_id: str
    reasons: tuple[Reason, ...]
    duration: float
    #: estimated probability that the test fails with this change (see selection.ranking)
    likelihood: float = 0.0
    #: the ranking features behind ``likelihood`` (selection.ranking.FEATURES, in order)
    features: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class SelectionPlan:
    """The tests to run, in order, and the ones the change cannot reach.

    ``full_suite`` is set (with its reason) when selection cannot be trusted for this change:
    then every test runs. ``new_test_files`` are test files the baseline never ran: pytest runs
    them whole. ``suite_duration`` is what the whole suite took in the baseline. ``over_budget``
    are selected tests a budget left out (in plan order).
    """

    baseline_run_id: int | None
    base: str | None
    selected: tuple[SelectedTest, ...]
    unaffected: tuple[str, ...]
    suite_duration: float
    full_suite: Reason | None = None
    new_test_files: tuple[str, ...] = ()
    over_budget: tuple[str, ...] = ()
    #: how the likelihoods were estimated: "heuristic", or the learned model that gave them
    ranker: str = "heuristic"
    #: what the plan judged: the change since the baseline's commit
    change: Change | None = None

    @property
    def selected_duration(self) -> float:
        return sum(t.duration for t in self.selected)

    @property
    def ranking_informative(self) -> bool:
        """False when the estimated probabilities do not tell the candidates apart (every one
        alike, within 0.01): the order, and what a budget keeps, then follow duration alone."""
        ranked = [t.likelihood for t in self.selected]
        if len(ranked) < 2 or self.full_suite is not None:
            return True  # nothing to rank
        return max(ranked) - min(ranked) >= 0.01
