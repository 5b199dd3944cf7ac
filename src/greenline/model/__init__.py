"""Frozen dataclasses for the values every layer passes around: runs, results, coverage,
selection plans and flaky-test verdicts."""

from __future__ import annotations

from greenline.model.coverage import Block, TestCoverage
from greenline.model.flaky import (
    Evidence,
    EvidenceKind,
    FlakyCategory,
    FlakyVerdict,
    Observation,
    QuarantineEntry,
    Verdict,
)
from greenline.model.runs import (
    BatchReceipt,
    CommitInfo,
    Environment,
    Outcome,
    Phase,
    PruneReport,
    Run,
    RunStatus,
    TestHistoryEntry,
    TestResult,
    TestSummary,
    Upload,
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
    "BatchReceipt",
    "Block",
    "Change",
    "CommitInfo",
    "Environment",
    "Evidence",
    "EvidenceKind",
    "FileChange",
    "FileStatus",
    "FlakyCategory",
    "FlakyVerdict",
    "Observation",
    "Outcome",
    "Phase",
    "PruneReport",
    "QuarantineEntry",
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
    "Upload",
    "Verdict",
]
