"""Test selection: which tests a change can break, in which order, and why."""

from __future__ import annotations

from greenline.selection.impact import Baseline, plan_selection

__all__ = ["Baseline", "plan_selection"]
