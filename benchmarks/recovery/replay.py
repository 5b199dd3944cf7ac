"""A release diff replayed as history: the change between two consecutive releases of a project
split into an ordered series of commits (one hunk, or a few neighbouring hunks of one file,
each), every commit checked to leave the suite green (a commit that turns it red is retried
after the others, then dropped).

The series is a list of snapshots: after commit ``i``, the full text of each file it changed
(None: the file is deleted). It is computed once per release pair and cached as JSON.
"""

from __future__ import annotations

import difflib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from harness import CONFTEST, failed, passed, run_pytest

SKIPPED = ("PKG-INFO", ".egg-info/", ".github/", "setup.cfg")
TEST_DIRS = ("tests/", "testing/", "test/")


@dataclass(frozen=True)
class Unit:
    """One planned commit: these hunks (indices into the file's grouped opcodes) of one file."""

    path: str
    hunks: tuple[int, ...]


def read_tree(root: Path) -> dict[str, str]:
    """The text files of an unpacked release, by relative path (binary files are left out)."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or any(s in relative for s in SKIPPED):
            continue
        try:
            files[relative] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return files


def hunks_of(old: str, new: str) -> list[list[tuple[str, int, int, int, int]]]:
    matcher = difflib.SequenceMatcher(None, old.splitlines(True), new.splitlines(True), False)
    return [g for g in matcher.get_grouped_opcodes(0) if any(op[0] != "equal" for op in g)]


def compose(old: str, new: str, applied: set[int]) -> str:
    """``old`` with the ``applied`` hunks of the diff to ``new`` (hunks do not overlap)."""
    a, b = old.splitlines(True), new.splitlines(True)
    out, at = [], 0
    for index, group in enumerate(hunks_of(old, new)):
        start, end = group[0][1], group[-1][2]
        out += a[at:start]
        out += b[group[0][3] : group[-1][4]] if index in applied else a[start:end]
        at = end
    return "".join(out + a[at:])


def plan_units(old: dict[str, str], new: dict[str, str], target: int) -> list[Unit]:
    """Units in commit order (the package's code, then its tests, then the rest), hunks of a
    file merged pairwise (the file with most units first) until ``target`` remain."""
    per_file: dict[str, list[tuple[int, ...]]] = {}
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        if path in old and path in new:
            per_file[path] = [(i,) for i in range(len(hunks_of(old[path], new[path])))]
        else:
            per_file[path] = [(0,)]
    while sum(map(len, per_file.values())) > target:
        path = max(per_file, key=lambda p: (len(per_file[p]), p))
        units = per_file[path]
        if len(units) < 2:
            break
        per_file[path] = [units[i] + units[i + 1] for i in range(0, len(units) - 1, 2)] + (
            [units[-1]] if len(units) % 2 else []
        )
    ordered = sorted(per_file, key=lambda p: (_kind(p), p))
    return [Unit(p, hunks) for p in ordered for hunks in per_file[p]]


def _kind(path: str) -> int:
    if path.endswith(".py") and not path.startswith(TEST_DIRS):
        return 0
    return 1 if path.startswith(TEST_DIRS) else 2


def materialize(tree: dict[str, str], where: Path) -> None:
    shutil.rmtree(where, ignore_errors=True)
    for path, text in tree.items():
        (where / path).parent.mkdir(parents=True, exist_ok=True)
        (where / path).write_text(text, encoding="utf-8")


def base_tree(old: dict[str, str]) -> dict[str, str]:
    """The old release as the benchmark commits it: with the harness conftest, and a pytest
    configuration of its own when it has none (pytest would otherwise walk further up)."""
    tree = dict(old)
    tree["conftest.py"] = CONFTEST
    sections = {"pytest.ini": "[pytest]", "tox.ini": "[pytest]", "pyproject.toml": "[tool.pytest"}
    if not any(section in tree.get(name, "") for name, section in sections.items()):
        tree["pytest.ini"] = "[pytest]\n"
    return tree


def build_series(
    old: dict[str, str], new: dict[str, str], target: int, scratch: Path, timeout: float
) -> dict[str, object]:
    """The checked series: each commit's subject and changed files, the tests that pass at the
    base and at the tip, and the units dropped because they turn the suite red."""
    tree = base_tree(old)
    materialize(tree, scratch)
    started = time.perf_counter()
    first = run_pytest(scratch, timeout=timeout, RECOVERY_NO_FLAKE="1") or {}
    timeout = min(timeout, max(10.0, 15 * (time.perf_counter() - started)))  # a hang is red
    known_red = failed(first)  # failing already in the release itself (e.g. offline)
    applied: dict[str, set[int]] = {}
    commits: list[dict[str, object]] = []
    pending = plan_units(old, new, target)
    for _ in range(2):  # a unit that needs a later one gets a second chance after it
        deferred = []
        for unit in pending:
            if _try_unit(unit, (old, new), tree, applied, scratch, timeout, known_red):
                commits.append(_commit(unit, tree))
            else:
                deferred.append(unit)
        pending = deferred
    dropped = [f"{u.path} {list(u.hunks)}" for u in pending]
    last = run_pytest(scratch, timeout=timeout, RECOVERY_NO_FLAKE="1") or {}
    return {
        "base": base_tree(old),
        "commits": commits,
        "dropped": dropped,
        "stable_tests": sorted(passed(first) & passed(last)),
        "release_red": sorted(known_red),
        "suite_tests": len(last),
        "suite_timeout": round(timeout, 1),
    }


def _try_unit(
    unit: Unit,
    releases: tuple[dict[str, str], dict[str, str]],
    tree: dict[str, str],
    applied: dict[str, set[int]],
    scratch: Path,
    timeout: float,
    known_red: set[str],
) -> bool:
    """Apply ``unit`` to the tree if the whole suite stays green with it."""
    old, new = releases
    path = unit.path
    before = tree.get(path)
    hunks = applied.get(path, set()) | set(unit.hunks)
    if path in old and path in new:
        text: str | None = compose(old[path], new[path], hunks)
    else:
        text = new.get(path)
    _write(scratch, path, text)
    outcomes = run_pytest(scratch, timeout=timeout, RECOVERY_NO_FLAKE="1")
    if outcomes and failed(outcomes) <= known_red:
        applied[path] = hunks
        if text is None:
            tree.pop(path, None)
        else:
            tree[path] = text
        return True
    _write(scratch, path, before)
    return False


def _write(scratch: Path, path: str, text: str | None) -> None:
    target = scratch / path
    if text is None:
        target.unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _commit(unit: Unit, tree: dict[str, str]) -> dict[str, object]:
    hunks = ", ".join(str(h + 1) for h in unit.hunks)
    return {
        "subject": f"{unit.path}: release change, hunk {hunks}",
        "files": {unit.path: tree.get(unit.path)},
    }


def load_series(
    cache: Path, old_dir: Path, new_dir: Path, target: int, timeout: float
) -> dict[str, object]:
    """The cached series of a release pair, built (and cached) the first time."""
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    old, new = read_tree(old_dir), read_tree(new_dir)
    series = build_series(old, new, target, cache.with_suffix(".scratch"), timeout)
    shutil.rmtree(cache.with_suffix(".scratch"), ignore_errors=True)
    cache.write_text(json.dumps(series), encoding="utf-8")
    return series
