"""The review digest of a change (the working tree against its base): the functions it changes
and the tests that ran each, those no test runs, the tests most likely to fail, the flaky tests
in its path and the open code-quality findings in its files. ``greenline review``, the MCP tool
``review_change`` and the server's pull-request comment all read it from here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from greenline import vcs
from greenline.api.findings import FindingService
from greenline.api.flaky import FlakyService
from greenline.api.selection import SelectionService
from greenline.api.workspace import Workspace
from greenline.errors import GreenlineError, NoDataError
from greenline.model import FileChange, FileStatus, Run, SelectedTest, SelectionPlan, Verdict
from greenline.model.review import BlockChange, ChangedFunction, FlakyInPath, ReviewDigest
from greenline.selection.impact import is_test_file
from greenline.store import lookups
from greenline.tracing import MODULE_BLOCK, read_file_blocks

#: the tests most likely to fail that a digest names
LIKELY = 10
#: the coverage key saying a file's module code ran while it was imported, before the tests
IMPORT_TIME = "<import-time>"


class ReviewService:
    """Where a change's risk is, for the person reviewing it."""

    def __init__(
        self,
        ws: Workspace,
        selection: SelectionService,
        flaky: FlakyService,
        findings: FindingService,
    ) -> None:
        self.ws = ws
        self.selection = selection
        self.flaky = flaky
        self.findings = findings

    def digest(self, base: str | None = None, *, likely: int = LIKELY) -> ReviewDigest:
        """The digest of the working tree's change since ``base`` (default: the merge-base of
        HEAD with the default branch). Without a baseline at the base or before it, no function
        has tests and the notes say why; the rest is still given."""
        root = self.ws.root
        base_sha = vcs.resolve_revision(root, base) if base else vcs.review_base(root)
        change = vcs.read_change(root, base_sha)
        notes: list[str] = []
        run = self._baseline(base_sha, notes)
        sources = [f for f in change.files if _is_source(f)]
        covered = self._coverage(run, sources)
        functions = _changed_functions(root, base_sha, sources, covered)
        plan = self._plan(base_sha, notes) if run is not None else None
        touched = {p for f in change.files for p in (f.path, f.old_path) if p}
        return ReviewDigest(
            base=base_sha,
            change=change,
            baseline_run_id=run.id if run else None,
            baseline_sha=run.commit.sha if run else None,
            functions=tuple(functions),
            likely=_most_likely(plan, likely),
            selected_tests=len(plan.selected) if plan else 0,
            baseline_tests=(len(plan.selected) + len(plan.unaffected)) if plan else 0,
            full_suite=plan.full_suite if plan else None,
            ranker=plan.ranker if plan else "heuristic",
            flaky=tuple(self._flaky_in_path(touched, covered, plan)),
            findings=tuple(self.findings.open_in(sorted(touched))),
            notes=tuple(notes),
        )

    def comment(self, base: str | None = None) -> str:
        """The digest as the markdown of a pull-request comment (see ``review_markdown``)."""
        from greenline.api.review_markdown import render_markdown

        return render_markdown(self.digest(base))

    def _baseline(self, base_sha: str, notes: list[str]) -> Run | None:
        try:
            return self.selection.find_baseline(within=base_sha)
        except NoDataError:
            notes.append(
                f"no recorded run with coverage at {base_sha[:10]} or before it: which tests "
                "run the changed code is unknown (record one on the base: pytest "
                "--greenline-record)"
            )
            return None

    def _plan(self, base_sha: str, notes: list[str]) -> SelectionPlan | None:
        try:
            return self.selection.plan_within(base_sha)
        except GreenlineError as exc:  # the digest still says what it can
            notes.append(f"no selection: {exc.message}")
            return None

    def _coverage(
        self, run: Run | None, sources: list[FileChange]
    ) -> dict[tuple[str, str], set[str]]:
        """(path, function) -> the tests that ran it in the baseline, for the changed files
        (under their old names: that is where the baseline saw them)."""
        if run is None or not sources:
            return {}
        paths = {f.old_path or f.path for f in sources}
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        with self.ws.store.lookup() as conn:
            for tc in lookups.run_coverage(conn, run.id, paths):
                for block in tc.blocks:
                    # a region (f#if1.else) belongs to its function
                    out[(block.path, block.name.split("#", 1)[0])].add(tc.test_id)
            for blocks in lookups.run_import_coverage(conn, run.id, paths).values():
                for block in blocks:
                    if block.name == MODULE_BLOCK:  # the module's code ran when it was imported
                        out.setdefault((block.path, IMPORT_TIME), set())
        return out

    def _flaky_in_path(
        self,
        touched: set[str],
        covered: dict[tuple[str, str], set[str]],
        plan: SelectionPlan | None,
    ) -> Iterable[FlakyInPath]:
        verdicts = [v for v in self.flaky.verdicts() if v.verdict is Verdict.FLAKY]
        if not verdicts:
            return
        quarantined = self.flaky.active_quarantine()
        ran: dict[str, set[str]] = defaultdict(set)
        for (path, _), tests in covered.items():
            for test in tests:
                ran[test].add(path)
        selected = {t.test_id for t in plan.selected} if plan and not plan.full_suite else set()
        for v in verdicts:
            file = v.test_id.split("::", 1)[0]
            if file in touched:
                why = f"its file {file} changed"
            elif v.test_id in ran:
                why = "it ran changed code in " + ", ".join(sorted(ran[v.test_id]))
            elif v.test_id in selected:
                why = "the change selects it"
            else:
                continue
            yield FlakyInPath(v, v.test_id in quarantined, why)


def _most_likely(plan: SelectionPlan | None, limit: int) -> tuple[SelectedTest, ...]:
    """The selected tests by estimated probability of failing, most likely first (none when
    everything must run: the likelihoods then say nothing)."""
    if plan is None or plan.full_suite is not None:
        return ()
    ranked = sorted(plan.selected, key=lambda t: (-t.likelihood, t.test_id))
    return tuple(ranked[: max(0, limit)])


def _is_source(f: FileChange) -> bool:
    """A Python file whose functions a review lists: not a test file, nor a conftest.py."""
    path = f.path if f.status is not FileStatus.DELETED else (f.old_path or f.path)
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".py") and not is_test_file(path) and name != "conftest.py"


def _blocks(text: str | None, path: str) -> dict[str, str]:
    """Function name (``<module>`` for module code) -> checksum; {} if gone or unparsable."""
    if text is None:
        return {}
    try:
        return {b.name: b.checksum for b in read_file_blocks(text, path).blocks}
    except (SyntaxError, ValueError):
        return {}


def _changed_functions(
    root: Path,
    base_sha: str,
    sources: list[FileChange],
    covered: dict[tuple[str, str], set[str]],
) -> list[ChangedFunction]:
    """Every function the change adds, edits or removes, file by file, in source order (a new
    file's module code is not listed: its functions are)."""
    out: list[ChangedFunction] = []
    for f in sources:
        old_path = f.old_path or f.path
        added = f.status is FileStatus.ADDED
        before = {} if added else _blocks(vcs.read_file_at(root, base_sha, old_path), old_path)
        after = {} if f.status is FileStatus.DELETED else _blocks(_read(root / f.path), f.path)
        for name in [*after, *(n for n in before if n not in after)]:
            if name not in before:
                status = BlockChange.ADDED
            elif name not in after:
                status = BlockChange.REMOVED
            elif before[name] != after[name]:
                status = BlockChange.MODIFIED
            else:
                continue
            if added and name == MODULE_BLOCK:
                continue
            tests = tuple(sorted(covered.get((old_path, name), ())))
            at_import = (old_path, IMPORT_TIME) in covered and name == MODULE_BLOCK
            out.append(ChangedFunction(f.path, name, status, tests, ran_at_import=at_import))
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
