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
from greenline.model.selection import (
    Change,
    FileChange,
    FileStatus,
    Reason,
    ReasonKind,
    SelectedTest,
    SelectionPlan,
)

__all__ = [
    "Block",
    "Change",
    "CommitInfo",
    "Environment",
    "FileChange",
    "FileStatus",
    "Outcome",
    "Phase",
    "Reason",
    "ReasonKind",
    "Run",
    "RunStatus",
    "SelectedTest",
    "SelectionPlan",
    "TestCoverage",
    "TestHistoryEntry",
    "TestResult",
    "TestSummary",
]
