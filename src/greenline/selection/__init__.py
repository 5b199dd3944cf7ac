"""Test selection: which tests a change can break, in which order, and why."""

from __future__ import annotations

from greenline.selection.budget import Budget, limit_to_budget, parse_budget
from greenline.selection.impact import Baseline, plan_selection, uncovered_changes
from greenline.selection.imports import ImportGraph

__all__ = [
    "Baseline",
    "Budget",
    "ImportGraph",
    "limit_to_budget",
    "parse_budget",
    "plan_selection",
    "uncovered_changes",
]
