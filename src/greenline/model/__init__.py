"""Frozen dataclasses for the values every layer passes around: runs, results, coverage."""

from __future__ import annotations

from greenline.model.coverage import Block, TestCoverage
from greenline.model.runs import (
    CommitInfo,
    Environment,
    Outcome,
    Phase,
    Run,
    RunStatus,
    TestHistoryEntry,
    TestResult,
    TestSummary,
)

__all__ = [
    "Block",
    "CommitInfo",
    "Environment",
    "Outcome",
    "Phase",
    "Run",
    "RunStatus",
    "TestCoverage",
    "TestHistoryEntry",
    "TestResult",
    "TestSummary",
]
