"""Budgets: keep the plan's tests, in order, until the time allowed is spent.

``10%`` is a share of the baseline suite's time, ``90s`` / ``2m`` / ``1.5`` are seconds. A
confidence (``0.99``) keeps tests, in order, until they hold that share of the plan's summed
failure likelihood: the expected share of the change's failing tests they catch. Both may be
given: the stricter one stops. Tests that failed in the baseline are always kept (a budget must
never hide a failing test), and a plan that runs the full suite ignores the budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from greenline.errors import UsageError
from greenline.model import ReasonKind, SelectedTest, SelectionPlan

_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|s|m|min)?\s*$")


@dataclass(frozen=True, slots=True)
class Budget:
    """A time limit (``fraction`` of the suite's time, or ``seconds``), a ``confidence``, or a
    time limit and a confidence."""

    fraction: float | None = None
    seconds: float | None = None
    confidence: float | None = None

    def limit(self, suite_duration: float) -> float:
        if self.fraction is not None:
            return self.fraction * suite_duration
        if self.seconds is not None:
            return self.seconds
        return math.inf

    def __str__(self) -> str:
        parts = []
        if self.fraction is not None:
            parts.append(f"{self.fraction:.0%} of the suite's time")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g}s")
        if self.confidence is not None:
            parts.append(f"{self.confidence:g} confidence")
        return ", ".join(parts)


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


def parse_confidence(text: str, where: str = "--confidence") -> float:
    try:
        value = float(text.strip().removesuffix("%")) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise UsageError(
            f"{where} {text!r}: not a confidence",
            hint="a probability above 0 and at most 1 (0.99), or a percentage (99%)",
        )
    return value


def make_budget(budget: str | None, confidence: str | None, prefix: str = "--") -> Budget | None:
    """The budget of a --budget text and a --confidence text (either may be None)."""
    limit = parse_budget(budget, f"{prefix}budget") if budget else None
    if confidence is None:
        return limit
    level = parse_confidence(confidence, f"{prefix}confidence")
    if limit is None:
        return Budget(confidence=level)
    return replace(limit, confidence=level)


def _must_run(test: SelectedTest) -> bool:
    return any(r.kind is ReasonKind.FAILED_LAST_TIME for r in test.reasons)


def limit_to_budget(plan: SelectionPlan, budget: Budget) -> SelectionPlan:
    """The plan cut to ``budget``; the tests that did not fit are listed as over budget."""
    if plan.full_suite is not None:
        return plan
    allowed = budget.limit(plan.suite_duration)
    wanted = math.inf
    if budget.confidence is not None:
        wanted = budget.confidence * sum(t.likelihood for t in plan.selected)
    keep: list[SelectedTest] = []
    over: list[str] = []
    spent = 0.0
    caught = 0.0
    for test in plan.selected:
        must = _must_run(test)
        if keep and not must and (caught >= wanted or spent + test.duration > allowed):
            over.append(test.test_id)
            continue
        keep.append(test)
        spent += test.duration
        caught += test.likelihood
    return replace(plan, selected=tuple(keep), over_budget=tuple(over))
