"""Impact analysis: from a baseline run's per-test coverage and a change, the tests to run.

Pure: the caller reads the store, git and the files; this module only decides. The rules, each
a Reason on the tests it selects:
- a test ran a block (function, method or module code) whose checksum is no longer in its file:
  changed, or removed (with the file, or renamed away);
- a test has no coverage in the baseline (JUnit imports, collection errors): it cannot be judged;
  one that was skipped there runs only when its file, or a file its file imports, changed;
- a test failed in the baseline run: it runs until it passes;
- a new test file the baseline never ran runs whole.
- a changed Python file that no recorded test ran (module-level code only, a package's
  ``__init__.py``): the tests whose files import it, directly or through project modules.
- a block that ran while a module was imported, before the first test (a registry or a table
  built at import), changed: the tests whose files are or import that module, directly or
  through project modules, or through a conftest.py above them (``import-time``).
A changed conftest.py, a different environment, or an uncovered change without an import graph
means selection cannot be trusted: everything runs; so does an import-time change that cannot be
narrowed down (code run during collection outside any module's import, or a module no test file
reaches).
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from greenline.model import (
    Block,
    Change,
    Environment,
    FileStatus,
    Outcome,
    Reason,
    ReasonKind,
    SelectedTest,
    SelectionPlan,
)
from greenline.selection.ranking import ChangeFeatures, History, Model, features, heuristic

TEST_FILE_PATTERNS = ("test_*.py", "*_test.py")
#: The import-time "module" of code that ran during collection outside any module's import.
COLLECTION = "<collection>"
#: Blocks as they are now: (name, checksum) pairs per file; None for a deleted or unparsable file.
CurrentBlocks = Mapping[str, frozenset[tuple[str, str]] | None]
#: For a changed file: every project file that imports it, mapped to the file it imports on the
#: way (see ImportGraph.reached_from).
Importers = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Baseline:
    """What the baseline run recorded, per test.

    ``coverage`` may hold only the blocks in the change's Python files (all that selection looks
    at; reading every block of a large suite is most of the cost); ``coverage_sizes`` then says
    how many blocks each test ran in all, and which tests have coverage at all.
    """

    run_id: int
    base: str | None
    environment: Environment | None
    coverage: Mapping[str, frozenset[Block]]
    outcomes: Mapping[str, Outcome]
    durations: Mapping[str, float]
    paths: Mapping[str, str | None]
    files: Mapping[str, frozenset[str]] = field(default_factory=dict)
    coverage_sizes: Mapping[str, int] | None = None
    #: what ran while each module was imported before the first test (module path -> blocks;
    #: like ``coverage``, possibly only the blocks in the change's files)
    import_time: Mapping[str, frozenset[Block]] = field(default_factory=dict)

    #: the suite-wide facts selection reads, worked out once for a baseline that many
    #: changes are judged against (None: worked out here, on first use)
    prepared: BaselineIndex | None = field(default=None, compare=False, repr=False)

    @cached_property
    def index(self) -> BaselineIndex:
        return self.prepared if self.prepared is not None else index_baseline(self)

    def has_coverage(self, test_id: str) -> bool:
        if self.coverage_sizes is not None:
            return self.coverage_sizes.get(test_id, 0) > 0
        return test_id in self.coverage

    def coverage_size(self, test_id: str) -> int:
        if self.coverage_sizes is not None:
            return self.coverage_sizes.get(test_id, 0)
        return len(self.coverage.get(test_id, ()))


@dataclass(frozen=True)
class BaselineIndex:
    """What ``plan_selection`` reads of a baseline's whole suite, whatever the change: a plan
    then costs what the change touches, not a walk over every test of the suite."""

    #: every test, sorted
    tests: tuple[str, ...]
    #: the tests that failed (in order), and those without coverage with their outcomes
    failed: tuple[tuple[str, Outcome], ...]
    uncovered: tuple[tuple[str, Outcome], ...]
    #: each test file's tests
    by_file: Mapping[str, tuple[str, ...]]
    suite_duration: float
    #: a test was skipped without coverage (it runs when a file its file imports changed)
    skipped_unseen: bool


def index_baseline(baseline: Baseline) -> BaselineIndex:
    """The ``BaselineIndex`` of a baseline: its outcomes, paths and durations, and which tests
    have coverage (so the whole coverage, or its sizes, must be known)."""
    tests = tuple(sorted(baseline.outcomes))
    by_file: dict[str, list[str]] = defaultdict(list)
    for test_id in tests:
        path = baseline.paths.get(test_id)
        if path:
            by_file[path].append(test_id)
    outcomes = baseline.outcomes
    uncovered = tuple((t, outcomes[t]) for t in tests if not baseline.has_coverage(t))
    return BaselineIndex(
        tests=tests,
        failed=tuple((t, outcomes[t]) for t in tests if outcomes[t].is_failure),
        uncovered=uncovered,
        by_file={path: tuple(ids) for path, ids in by_file.items()},
        suite_duration=sum(baseline.durations.values()),
        skipped_unseen=any(o is Outcome.SKIPPED for _, o in uncovered),
    )


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_FILE_PATTERNS)


def changed_paths(change: Change) -> set[str]:
    """Every Python path the change touches, old and new names: the coverage selection reads."""
    return {p for f in change.files for p in (f.path, f.old_path) if p and p.endswith(".py")}


def python_paths(change: Change) -> set[str]:
    """Paths whose recorded blocks may be stale: old paths of renames, edited and deleted files."""
    paths = set()
    for f in change.files:
        if f.status is not FileStatus.ADDED and (f.old_path or f.path).endswith(".py"):
            paths.add(f.old_path or f.path)
    return paths


def uncovered_changes(baseline: Baseline, change: Change) -> list[str]:
    """Changed Python files (not tests, not conftest.py) that no test ran any code in."""
    covered = {block.path for blocks in baseline.coverage.values() for block in blocks}
    out = []
    for f in change.files:
        path = f.old_path or f.path
        name = f.path.rsplit("/", 1)[-1]
        if not path.endswith(".py") or is_test_file(f.path) or name == "conftest.py":
            continue
        if f.status is FileStatus.ADDED and name != "__init__.py":
            continue  # reachable only through a file that imports it, whose module block changed
        if path not in covered:
            out.append(f.path)
    return out


def import_paths(
    baseline: Baseline, change: Change, current: CurrentBlocks | None = None
) -> list[str]:
    """The Python files whose importers ``plan_selection`` needs: the changed ones no test ran
    (``uncovered_changes``), when the baseline skipped tests every changed one (a skipped test
    runs when a file its test file imports changed), and the modules whose import ran a block
    that changed (given ``current``)."""
    paths = uncovered_changes(baseline, change)
    if baseline.index.skipped_unseen:
        paths += sorted(changed_paths(change) - set(paths))
    if current is not None:
        stale = stale_import_modules(baseline, change, current)
        paths += sorted(set(stale) - set(paths) - {COLLECTION})
    return paths


def stale_import_modules(
    baseline: Baseline, change: Change, current: CurrentBlocks
) -> dict[str, list[Reason]]:
    """The modules whose import ran a block that changed or went away, with what changed."""
    renamed = {f.old_path: f.path for f in change.files if f.old_path}
    stale_paths = python_paths(change)
    out: dict[str, list[Reason]] = {}
    for module, blocks in baseline.import_time.items():
        for block in sorted(blocks, key=lambda b: (b.path, b.name)):
            if block.path not in stale_paths:
                continue
            verdict = _judge(block, current.get(renamed.get(block.path, block.path)))
            if verdict is not None:
                out.setdefault(module, []).append(verdict)
    return out


def _unjudged(
    baseline: Baseline, test_id: str, outcome: Outcome, change: Change, importers: Importers
) -> Reason | None:
    """Why a test without coverage runs, if it does. A test skipped in the baseline ran no code
    to judge by, but only a change to its file or to what its file imports can unskip it (a
    conftest.py change runs everything); any other test without coverage (JUnit imports,
    collection errors) cannot be judged and always runs."""
    if outcome is not Outcome.SKIPPED:
        return Reason(ReasonKind.NO_COVERAGE, "the baseline has none")
    path = baseline.paths.get(test_id)
    touched = {p for f in change.files for p in (f.path, f.old_path) if p}
    if path is None:  # an imported result without a file: any change may concern it
        detail = "skipped in the baseline, file unknown, and the tree changed"
        return Reason(ReasonKind.NO_COVERAGE, detail) if touched else None
    if path in touched:
        return Reason(ReasonKind.NO_COVERAGE, f"skipped in the baseline; {path} changed")
    for changed in sorted(touched & set(importers)):
        if path in importers[changed]:
            detail = f"skipped in the baseline; {path} imports {changed}"
            return Reason(ReasonKind.NO_COVERAGE, detail)
    return None


def plan_selection(
    baseline: Baseline,
    change: Change,
    current: CurrentBlocks,
    environment: Environment | None,
    importers: Importers | None = None,
    always_run: tuple[str, ...] = (),
    history: History | None = None,
    model: tuple[str, Model] | None = None,
) -> SelectionPlan:
    """The plan for ``change`` against ``baseline``; ``current`` covers every changed .py path
    and ``importers`` every path ``uncovered_changes`` names (without it they run everything).
    Tests matching an ``always_run`` pattern are always selected. Tests are ranked by ``model``
    (a name and a learned model) when given, else by the heuristic, with ``history``'s recent
    failure rates among the features."""
    reasons: dict[str, list[Reason]] = defaultdict(list)
    fallback = _distrust(baseline, change, environment, importers) or _import_time_tests(
        baseline, change, current, importers, reasons
    )
    if fallback is not None:
        return replace(_full_suite(baseline, fallback), change=change)
    stale = _stale_blocks(baseline, change, current, reasons)
    _changed_data(baseline, change, reasons)
    _importing_tests(baseline, uncovered_changes(baseline, change), importers or {}, reasons)
    index = baseline.index
    if always_run:
        for test_id in index.tests:
            pattern = next((p for p in always_run if fnmatch.fnmatchcase(test_id, p)), None)
            if pattern is not None:
                reasons[test_id].append(Reason(ReasonKind.ALWAYS_RUN, f"matches {pattern!r}"))
    for test_id, outcome in index.failed:
        reasons[test_id].append(Reason(ReasonKind.FAILED_LAST_TIME, outcome.value))
    for test_id, outcome in index.uncovered:
        unjudged = _unjudged(baseline, test_id, outcome, change, importers or {})
        if unjudged is not None:
            reasons[test_id].append(unjudged)
    new_files = tuple(
        sorted(
            f.path
            for f in change.files
            if f.status is not FileStatus.DELETED
            and is_test_file(f.path)
            and f.path not in index.by_file
        )
    )
    return _plan(baseline, change, reasons, stale, new_files, history or History(), model)


def _distrust(
    baseline: Baseline,
    change: Change,
    environment: Environment | None,
    importers: Importers | None,
) -> Reason | None:
    """Why this change cannot be judged from the baseline's coverage, if it cannot."""
    before, now = baseline.environment, environment
    if before is not None and now is not None:
        if before.python != now.python:
            return Reason(ReasonKind.FULL_SUITE, f"Python changed: {before.python} -> {now.python}")
        if before.packages_hash != now.packages_hash:
            return Reason(ReasonKind.FULL_SUITE, "installed packages changed")
        if before.platform != now.platform:
            return Reason(ReasonKind.FULL_SUITE, f"platform changed: {before.platform}")
    for f in change.files:
        if f.path.rsplit("/", 1)[-1] == "conftest.py":
            return Reason(
                ReasonKind.FULL_SUITE, f"{f.path} changed: its hooks can affect every test below it"
            )
    for path in uncovered_changes(baseline, change):
        if importers is None or path not in importers:
            return Reason(
                ReasonKind.FULL_SUITE, f"{path} is not in any test's coverage (no import graph)"
            )
    return None


def _import_time_tests(
    baseline: Baseline,
    change: Change,
    current: CurrentBlocks,
    importers: Importers | None,
    reasons: dict[str, list[Reason]],
) -> Reason | None:
    """Adds ``import-time`` reasons to the tests that depend on a module whose import ran a
    changed block; returns why everything must run instead, when that cannot be narrowed."""
    stale = stale_import_modules(baseline, change, current)
    if not stale:
        return None
    if COLLECTION in stale:
        what = stale[COLLECTION][0].detail
        return Reason(
            ReasonKind.IMPORT_TIME,
            f"{what} ran while tests were collected, outside any module's import: "
            "every test may depend on it",
        )
    by_file = baseline.index.by_file
    # what each test file's import depends on; one reason per file, shared by its tests (a
    # release's change can leave a hundred modules stale under a conftest every test shares)
    found_in: dict[str, list[str]] = defaultdict(list)
    for module, changed in sorted(stale.items()):
        if importers is None or module not in importers:
            return Reason(
                ReasonKind.IMPORT_TIME,
                f"{changed[0].detail} ran while {module} was imported (no import graph)",
            )
        what = changed[0].detail + (f" and {len(changed) - 1} more" if len(changed) > 1 else "")
        reached = {module: module, **importers[module]}
        found = False
        for importer, step in sorted(reached.items()):
            through = f" through {step}" if step not in (module, importer) else ""
            if importer.rsplit("/", 1)[-1] == "conftest.py":  # serves every test below it
                folder = importer.rsplit("/", 1)[0] + "/" if "/" in importer else ""
                files = {
                    f: f"{importer} imports it{through}" for f in by_file if f.startswith(folder)
                }
            elif importer in by_file:
                link = "" if importer == module else f"{importer} imports it{through}"
                files = {importer: link}
            else:
                continue
            for test_file, link in files.items():
                detail = f"{what} ran while {module} was imported" + (f"; {link}" if link else "")
                found_in[test_file].append(detail)
                found = True
        # a test module none of whose tests the baseline ran (all deselected, as by a -m
        # that leaves a folder out): what its import built serves its own tests, as for a test
        # module the baseline has tests of, so no baseline test depends on it
        if not found and not is_test_file(module):
            return Reason(
                ReasonKind.IMPORT_TIME,
                f"{what} ran while {module} was imported, and no test file imports it: "
                "every test may depend on it",
            )
    for test_file, details in found_in.items():
        more = len(details) - 1
        reason = Reason(
            ReasonKind.IMPORT_TIME,
            details[0] + (f" (and {more} more module{'s' if more > 1 else ''})" if more else ""),
        )
        for test_id in by_file[test_file]:
            reasons[test_id].append(reason)
    return None


def _changed_data(baseline: Baseline, change: Change, reasons: dict[str, list[Reason]]) -> None:
    """Tests that read a file (not Python source) that changed, moved or went away."""
    changed = {
        path
        for f in change.files
        for path in (f.path, f.old_path)
        if path and not path.endswith(".py")
    }
    if not changed:
        return
    for test_id, paths in baseline.files.items():
        for path in sorted(paths & changed):
            reasons[test_id].append(Reason(ReasonKind.READS_CHANGED_FILE, path))


def _importing_tests(
    baseline: Baseline, paths: list[str], importers: Importers, reasons: dict[str, list[Reason]]
) -> None:
    by_file = baseline.index.by_file
    for changed in paths:
        reached = importers[changed]
        for test_file, step in reached.items():
            detail = f"{test_file} imports {changed}" + (
                f" (through {step})" if step != changed else ""
            )
            for test_id in by_file.get(test_file, ()):
                reasons[test_id].append(Reason(ReasonKind.IMPORTS_CHANGED_FILE, detail))


def _stale_blocks(
    baseline: Baseline, change: Change, current: CurrentBlocks, reasons: dict[str, list[Reason]]
) -> dict[str, list[Block]]:
    """Adds a reason per changed or removed block a test ran; returns those blocks per test."""
    renamed = {f.old_path: f.path for f in change.files if f.old_path}
    stale_paths = python_paths(change)
    verdicts: dict[Block, Reason | None] = {}
    # tests that ran the same blocks share one set of them (the store's coverage sets):
    # each set is judged once
    judged: dict[int, tuple[list[Reason], list[Block]]] = {}
    stale: dict[str, list[Block]] = defaultdict(list)
    for test_id, blocks in baseline.coverage.items():
        found = judged.get(id(blocks))
        if found is None:
            found = judged[id(blocks)] = ([], [])
            for block in blocks:
                if block.path not in stale_paths:
                    continue
                if block not in verdicts:
                    now = current.get(renamed.get(block.path, block.path))
                    verdicts[block] = _judge(block, now)
                verdict = verdicts[block]
                if verdict is not None:
                    found[0].append(verdict)
                    found[1].append(block)
        if found[0]:
            reasons[test_id].extend(found[0])
            stale[test_id].extend(found[1])
    return stale


def _judge(block: Block, now: frozenset[tuple[str, str]] | None) -> Reason | None:
    where = f"{block.path}::{block.name}"
    if now is None:
        return Reason(ReasonKind.REMOVED_BLOCK, f"{where} (file deleted or unreadable)")
    if (block.name, block.checksum) in now:
        return None
    if any(name == block.name for name, _ in now):
        return Reason(ReasonKind.CHANGED_BLOCK, where)
    return Reason(ReasonKind.REMOVED_BLOCK, where)


def _full_suite(baseline: Baseline, reason: Reason) -> SelectionPlan:
    selected = tuple(
        SelectedTest(t, (reason,), baseline.durations.get(t, 0.0))
        for t in sorted(baseline.outcomes)
    )
    return SelectionPlan(
        baseline_run_id=baseline.run_id,
        base=baseline.base,
        selected=selected,
        unaffected=(),
        suite_duration=sum(baseline.durations.values()),
        full_suite=reason,
    )


_KIND_ORDER = {kind: i for i, kind in enumerate(ReasonKind)}


def _in_order(reasons: list[Reason]) -> tuple[Reason, ...]:
    """A test's reasons without repeats, by kind and detail: they are gathered by walking sets
    of blocks, whose order changes with the hash seed, and two runs must print the same."""
    return tuple(sorted(set(reasons), key=lambda r: (_KIND_ORDER[r.kind], r.detail)))


def _plan(
    baseline: Baseline,
    change: Change,
    reasons: Mapping[str, list[Reason]],
    stale: Mapping[str, list[Block]],
    new_files: tuple[str, ...],
    history: History,
    model: tuple[str, Model] | None,
) -> SelectionPlan:
    change_size = len({b for blocks in stale.values() for b in blocks})
    tests = sorted(reasons)
    affinity = ChangeFeatures(change)
    rows = [
        features(
            t,
            baseline.paths.get(t),
            reasons[t],
            stale.get(t, ()),
            baseline.coverage_size(t),
            change,
            change_size,
            history,
            baseline.durations.get(t, 0.0),
            affinity,
        )
        for t in tests
    ]
    likelihoods = model[1].predict(rows) if model and rows else [heuristic(r) for r in rows]
    chosen = {
        t: SelectedTest(
            t,
            _in_order(reasons[t]),
            baseline.durations.get(t, 0.0),
            likelihood=round(p, 4),
            features=row,
        )
        for t, row, p in zip(tests, rows, likelihoods, strict=True)
    }

    def priority(test: SelectedTest) -> tuple[int, float, str]:
        failed = any(r.kind is ReasonKind.FAILED_LAST_TIME for r in test.reasons)
        return (0 if failed else 1, -test.likelihood / max(test.duration, 1e-3), test.test_id)

    selected = tuple(sorted(chosen.values(), key=priority))
    return SelectionPlan(
        baseline_run_id=baseline.run_id,
        base=baseline.base,
        selected=selected,
        unaffected=tuple(t for t in baseline.index.tests if t not in reasons),
        suite_duration=baseline.index.suite_duration,
        new_test_files=new_files,
        ranker=model[0] if model else "heuristic",
        change=change,
    )
