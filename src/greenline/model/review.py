"""A review digest of a change: where its risk is, for the person reviewing it. The functions it
changed and the tests that ran each, the ones no test runs, the tests most likely to fail, the
flaky tests in its path and the open code-quality findings in its files."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from greenline.model.flaky import FlakyVerdict
from greenline.model.selection import Change, Reason, SelectedTest


class BlockChange(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class ChangedFunction:
    """A function, method or module code (``<module>``) the change added, edited or removed,
    with the tests that ran it in the baseline (by name: the code they ran was the old one)."""

    path: str
    name: str
    status: BlockChange
    tests: tuple[str, ...]
    #: module code (``<module>``) that ran when the module was imported, before the tests
    ran_at_import: bool = False

    @property
    def is_untested(self) -> bool:
        """Code the change leaves behind that no recorded test runs."""
        return self.status is not BlockChange.REMOVED and not self.tests and not self.ran_at_import


@dataclass(frozen=True, slots=True)
class CodeFinding:
    """One code-quality finding of a code host's analysis (GitHub Code Quality, or a code
    scanning alert), as the host reported it."""

    provider: str  # "github-code-quality", "github-code-scanning"
    repository: str
    number: int
    state: str  # "open", "dismissed", "fixed", or "resolved" (gone from a full listing)
    rule_id: str
    rule_title: str
    severity: str
    category: str
    path: str
    start_line: int | None
    end_line: int | None
    message: str
    url: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class FlakyInPath:
    """A flaky test the change reaches, and how (it ran changed code, its file changed, or
    the change selects it), with whether its failures are quarantined."""

    verdict: FlakyVerdict
    quarantined: bool
    why: str


@dataclass(frozen=True)
class ReviewDigest:
    """Everything greenline knows of a change's risk. ``baseline_run_id`` is None when no
    recorded run with coverage is at the base or before it: then no function has tests and
    ``notes`` says so. ``full_suite`` is set when selection cannot judge the change (every
    test should run)."""

    base: str
    change: Change
    baseline_run_id: int | None
    baseline_sha: str | None
    functions: tuple[ChangedFunction, ...]
    likely: tuple[SelectedTest, ...]
    selected_tests: int
    baseline_tests: int
    full_suite: Reason | None
    ranker: str
    flaky: tuple[FlakyInPath, ...]
    findings: tuple[CodeFinding, ...]
    notes: tuple[str, ...] = ()

    @property
    def untested(self) -> tuple[ChangedFunction, ...]:
        return tuple(f for f in self.functions if f.is_untested)
