"""Test selection: which tests a change can break, in which order, and why."""

from __future__ import annotations

from greenline.selection.budget import Budget, limit_to_budget, make_budget, parse_budget
from greenline.selection.impact import (
    Baseline,
    import_paths,
    plan_selection,
    uncovered_changes,
)
from greenline.selection.imports import ImportGraph
from greenline.selection.ranking import FEATURES, History, Model

__all__ = [
    "FEATURES",
    "Baseline",
    "Budget",
    "History",
    "ImportGraph",
    "Model",
    "import_paths",
    "limit_to_budget",
    "make_budget",
    "parse_budget",
    "plan_selection",
    "uncovered_changes",
]
