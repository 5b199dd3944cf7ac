"""Budgets: keep the plan's tests, in order, until the time allowed is spent.

``10%`` is a share of the baseline suite's time, ``90s`` / ``2m`` / ``1.5`` are seconds. Tests
that failed in the baseline are always kept (a budget must never hide a failing test), and a
plan that runs the full suite ignores the budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from greenline.errors import UsageError
from greenline.model import ReasonKind, SelectedTest, SelectionPlan

_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|s|m|min)?\s*$")


@dataclass(frozen=True, slots=True)
class Budget:
    """A time limit: ``fraction`` of the suite's time, or ``seconds``."""

    fraction: float | None = None
    seconds: float | None = None

    def limit(self, suite_duration: float) -> float:
        if self.fraction is not None:
            return self.fraction * suite_duration
        return self.seconds or 0.0

    def __str__(self) -> str:
        if self.fraction is not None:
            return f"{self.fraction:.0%} of the suite's time"
        return f"{self.seconds:g}s"


def parse_budget(text: str, where: str = "--budget") -> Budget:
    match = _BUDGET.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(
            f"{where} {text!r}: not a budget",
            hint="a share of the suite's time (10%) or a duration (90s, 2m)",
        )
    value, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        return Budget(fraction=min(value, 100.0) / 100)
    return Budget(seconds=value * 60 if unit in ("m", "min") else value)


def _must_run(test: SelectedTest) -> bool:
    return any(r.kind is ReasonKind.FAILED_LAST_TIME for r in test.reasons)


def limit_to_budget(plan: SelectionPlan, budget: Budget) -> SelectionPlan:
    """The plan cut to ``budget``; the tests that did not fit are listed as over budget."""
    if plan.full_suite is not None:
        return plan
    allowed = budget.limit(plan.suite_duration)
    keep: list[SelectedTest] = []
    over: list[str] = []
    spent = 0.0
    for test in plan.selected:
        if keep and spent + test.duration > allowed and not _must_run(test):
            over.append(test.test_id)
            continue
        keep.append(test)
        spent += test.duration
    return replace(plan, selected=tuple(keep), over_budget=tuple(over))
