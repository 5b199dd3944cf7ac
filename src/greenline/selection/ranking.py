"""Ranking: how likely each selected test is to fail, so the likeliest per second runs first.

Every selected test gets a feature vector (below) and an estimated failure probability. With a
model learned from the store's history (see ``learn.py``) the probability is the model's; before
there is one, a transparent heuristic gives it:

- a test that failed in the baseline: 0.9 (it most likely still fails);
- a test that ran changed code: 0.15 + 0.5 x focus, where focus is the share of all the blocks
  the test ran that changed (a unit test of the changed function has focus near 1, a broad
  integration test near 0); doubled-ish (x1.5 each, capped) when the test's file is named after
  a changed module, or its name mentions a changed function;
- a test selected because it imports or reads a changed file, or has no coverage: 0.2;
- combined with the test's recent failure rate r as 1 - (1 - p)(1 - r).

Tests then run by probability per second of their baseline duration (Smith's rule: the order
that minimises the expected time to the first failure), failed-last-time tests first of all.
Pure: no I/O.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from greenline.model import Block, Change, Reason, ReasonKind

#: The features every selected test gets, in a fixed order (a learned model's columns).
FEATURES = (
    "changed_blocks",
    "coverage_size",
    "focus",
    "file_affinity",
    "name_affinity",
    "path_distance",
    "change_size",
    "failed_last_time",
    "no_coverage",
    "imports_changed_file",
    "reads_changed_file",
    "recent_failure_rate",
    "recent_runs",
    "log_duration",
)


@dataclass(frozen=True, slots=True)
class History:
    """What recent runs say of each test: failures out of runs it took part in."""

    failures: Mapping[str, int] = field(default_factory=dict)
    runs: Mapping[str, int] = field(default_factory=dict)

    def failure_rate(self, test_id: str) -> float:
        runs = self.runs.get(test_id, 0)
        return self.failures.get(test_id, 0) / runs if runs else 0.0


class Model(Protocol):
    """A learned estimator: failure probabilities for rows of FEATURES."""

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]: ...


def _stem(path: str) -> str:
    name = posixpath.basename(path).removesuffix(".py")
    return name.removeprefix("test_").removesuffix("_test").removesuffix("_tests").lower()


def _function_name(block_name: str) -> str | None:
    """A changed function's name as a test's name would mention it (``Cart.add_item`` and its
    branch ``Cart.add_item#if1.else`` -> ``add_item``); None when too short to mean anything."""
    last = block_name.split("#", 1)[0].rsplit(".", 1)[-1].strip("_").lower()
    return last if len(last) >= 3 and last != "<module>" else None


class ChangeFeatures:
    """What a change's files say of a test file (is it named after a changed module, how many
    folders from the nearest changed file), worked out once per test file: a suite's tests
    live in far fewer files than there are tests, and a release diff changes hundreds of
    files, so comparing every test with every changed file is what planning would spend its
    time on."""

    def __init__(self, change: Change) -> None:
        changed = [f.path for f in change.files if f.path.endswith(".py")] or [
            f.path for f in change.files
        ]
        self.stems = frozenset(s for s in (_stem(p) for p in changed) if s)
        self.folders = sorted({posixpath.dirname(p) for p in changed})
        self._of: dict[str, tuple[bool, int]] = {}

    def of(self, test_path: str) -> tuple[bool, int]:
        """(file affinity, folder distance to the nearest changed file) of one test file."""
        found = self._of.get(test_path)
        if found is None:
            test_stem = _stem(test_path)
            affinity = any(s == test_stem or s in test_stem or test_stem in s for s in self.stems)
            folder = posixpath.dirname(test_path)
            distance = min((_folders_apart(folder, f) for f in self.folders), default=0)
            found = self._of[test_path] = (affinity, distance)
        return found


def _folders_apart(a: str, b: str) -> int:
    """Folders between two folders: 0 for the same one, 1 for siblings' children, and so on."""
    pa, pb = a.split("/"), b.split("/")
    common = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        common += 1
    return (len(pa) - common) + (len(pb) - common)


def features(
    test_id: str,
    path: str | None,
    reasons: Sequence[Reason],
    stale: Sequence[Block],
    coverage_size: int,
    change: Change,
    change_size: int,
    history: History,
    duration: float,
    affinity: ChangeFeatures | None = None,
) -> tuple[float, ...]:
    """The FEATURES of one selected test. ``stale`` are the changed or removed blocks it ran;
    ``affinity`` is the change's ChangeFeatures, made once for every test of a plan."""
    kinds = {r.kind for r in reasons}
    test_path = path or test_id.split("::", 1)[0]
    file_affinity, distance = (affinity or ChangeFeatures(change)).of(test_path)
    test_name = test_id.rsplit("::", 1)[-1].lower()
    names = {_function_name(b.name) for b in stale} - {None}
    name_affinity = any(name in test_name for name in names if name)
    return (
        float(len(stale)),
        float(coverage_size),
        len(stale) / coverage_size if coverage_size else 0.0,
        float(file_affinity),
        float(name_affinity),
        float(distance),
        float(change_size),
        float(ReasonKind.FAILED_LAST_TIME in kinds),
        float(ReasonKind.NO_COVERAGE in kinds),
        # a dependency through imports, seen statically or while the module was imported
        float(bool(kinds & {ReasonKind.IMPORTS_CHANGED_FILE, ReasonKind.IMPORT_TIME})),
        float(ReasonKind.READS_CHANGED_FILE in kinds),
        history.failure_rate(test_id),
        float(history.runs.get(test_id, 0)),
        math.log10(max(duration, 1e-4)),
    )


def heuristic(row: Sequence[float]) -> float:
    """The failure probability of a test from its features, before there is a model."""
    f = dict(zip(FEATURES, row, strict=True))
    p = 0.02
    if f["changed_blocks"]:
        p = 0.15 + 0.5 * f["focus"]
        if f["file_affinity"]:
            p *= 1.5
        if f["name_affinity"]:
            p *= 1.5
    if f["no_coverage"] or f["imports_changed_file"] or f["reads_changed_file"]:
        p = max(p, 0.2)
    p = min(p, 0.95)
    p = 1 - (1 - p) * (1 - f["recent_failure_rate"])
    if f["failed_last_time"]:
        p = max(p, 0.9)
    return p
