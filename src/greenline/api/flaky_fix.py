"""Fixing a flaky test: synthesise patches for its root cause and offer only those that
survive verification in a scratch copy of the project (runs under the failing condition, then
the whole suite), every run through the workspace's executor."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from greenline import vcs
from greenline.api.flaky_candidates import Candidates, fails_alone, is_test_file
from greenline.api.flaky_trials import ScanReport, read_jsonl
from greenline.api.workspace import Workspace
from greenline.errors import InputError
from greenline.executor import OUT, pytest_job
from greenline.flaky.fixes import FixError, Patch
from greenline.flaky.patches import patched_paths
from greenline.flaky.rewrites import check_added_calls, check_patch
from greenline.model import FlakyVerdict, Outcome

#: A verified fix passes this many runs under the condition that made the test fail.
VERIFY_RUNS = 60
#: fewer runs than this prove too little to call a patch verified
MIN_VERIFY_RUNS = 10
SCRATCH_IGNORE = shutil.ignore_patterns(".git", ".greenline", "__pycache__", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class FixResult:
    verdict: FlakyVerdict
    patch: Patch | None  # a verified patch, or None
    verified_runs: int
    tried: tuple[str, ...]  # what was tried and why it was not offered
    applied: bool = False
    scan: str = ""  # which scan the root cause came from


@dataclass(frozen=True, slots=True)
class PatchVerdict:
    """Whether a patch written by anyone fixes a flaky test without weakening it."""

    verdict: FlakyVerdict
    paths: tuple[str, ...]
    verified: bool
    failure: str | None  # why it was rejected
    verify_runs: int
    scan: str = ""


class Fixer:
    """Patches for one flaky test, proven in scratch copies of the work directory."""

    def __init__(self, ws: Workspace, workers: int, verify_runs: int) -> None:
        self.ws = ws
        self.workdir = ws.workdir
        self.workers = max(1, workers)
        self.verify_runs = verify_runs

    def fix(
        self,
        verdict: FlakyVerdict,
        report: ScanReport,
        source: str,
        apply: bool,
        progress: Callable[[str, int, int], None] | None,
    ) -> FixResult:
        """The first candidate patch that verifies (applied to the work tree with ``apply``)."""
        tried: list[str] = []
        reference = {t: o for t, o in report.reference.items() if t not in report.unreliable}
        for patch in self.candidates(verdict, report, tried):
            if progress:
                progress(f"verifying: {patch.description}", 0, self.verify_runs)
            failure = self.verify(patch, verdict, reference)
            if failure is None:
                if apply:
                    self._inside(patch.path).write_text(patch.after, encoding="utf-8")
                return FixResult(verdict, patch, self.verify_runs, tuple(tried), apply, source)
            tried.append(f"{patch.description}: {failure}")
        return FixResult(verdict, None, 0, tuple(tried), False, source)

    def _inside(self, relative: str) -> Path:
        """``relative`` in the work directory, refused when it resolves outside the repository
        (a symlinked test directory must not make greenline write elsewhere)."""
        target = (self.workdir / relative).resolve()
        root = self.ws.root.resolve()
        if not target.is_relative_to(root):
            raise InputError(
                f"{relative} resolves to {target}, outside the repository {root}",
                hint="greenline writes fixes only inside the repository: apply the patch by "
                "hand (greenline flaky fix without --apply prints it)",
            )
        return target

    def candidates(
        self, verdict: FlakyVerdict, report: ScanReport, tried: list[str]
    ) -> list[Patch]:
        """Patches for the test's root cause, each already checked to keep every assertion."""
        out: list[Patch] = []
        for what, make in Candidates(self.ws, verdict, report).makers(tried):
            try:
                patch = make()
                check_patch(patch)
            except (FixError, SyntaxError) as exc:
                tried.append(f"{what}: {exc}")
            else:
                out.append(patch)
        return out

    def verify(
        self, patch: Patch, verdict: FlakyVerdict, reference: dict[str, Outcome]
    ) -> str | None:
        """None when the patch holds; else what went wrong. ``reference`` is how every test
        that never failed in the scan ended in the unpatched suite: each must still pass (tests
        that flake by themselves are no evidence against the patch)."""

        def write(scratch: Path) -> str | None:
            (scratch / patch.path).write_text(patch.after, encoding="utf-8")
            return None

        return self._in_scratch(write, verdict, reference)

    def verify_diff(
        self, diff: str, verdict: FlakyVerdict, reference: dict[str, Outcome]
    ) -> str | None:
        """The same proof for a unified diff written by anyone: it must apply, keep every
        assertion and add no sleep, retry, skip or xfail, then hold like greenline's own."""

        def apply(scratch: Path) -> str | None:
            failure = vcs.apply_patch(scratch, diff)
            if failure is not None:
                return f"it does not apply: {failure}"
            return weakening(self.workdir, scratch, patched_paths(diff))

        return self._in_scratch(apply, verdict, reference)

    def _in_scratch(
        self,
        change: Callable[[Path], str | None],
        verdict: FlakyVerdict,
        reference: dict[str, Outcome],
    ) -> str | None:
        scratch = Path(tempfile.mkdtemp(prefix="greenline-fix-")) / "project"
        shutil.copytree(self.workdir, scratch, ignore=SCRATCH_IGNORE)
        try:
            return (
                change(scratch)
                or self._under_condition(scratch, verdict)
                or self._suite(scratch, reference, verdict.test_id)
            )
        finally:
            shutil.rmtree(scratch.parent, ignore_errors=True)

    def _under_condition(self, scratch: Path, verdict: FlakyVerdict) -> str | None:
        """Runs of the test under the condition that made it fail, in batches, stopping at
        the first batch with a failure."""
        alone = fails_alone(verdict)
        condition = [verdict.test_id] if alone else [*verdict.polluters, verdict.test_id]

        def once(i: int) -> int | None:
            # a different hash seed each run: set order varies as it did when it failed
            env = {"PYTHONHASHSEED": str(i + 1)}
            job = pytest_job(*condition, cwd=scratch, env=env, timeout=120)
            return self.ws.executor.run(job).exit_code

        batch = max(2, self.workers)
        total = self.verify_runs
        for start in range(0, total, batch):
            runs = range(start, min(start + batch, total))
            codes = self.ws.executor.concurrently(once, runs, self.workers)
            bad = sum(code != 0 for code in codes)
            if bad:
                return (
                    f"failed {bad} of runs {start + 1}-{runs[-1] + 1} (of {total}) under its "
                    "failing condition"
                )
        return None

    def _suite(self, scratch: Path, reference: dict[str, Outcome], test_id: str) -> str | None:
        """With the patch, every test that passed before still passes, and the fixed test
        passes in the suite's own order too (a fix that holds only alone is no fix)."""
        job = pytest_job(f"--greenline-outcomes={OUT}/suite.jsonl", cwd=scratch, timeout=1800)
        rows = read_jsonl(self.ws.executor.run(job), "suite.jsonl")
        now = {row["test_id"]: Outcome(row["outcome"]) for row in rows}
        if test_id in now and now[test_id].is_failure:
            return f"with it, the test itself fails in the whole suite ({now[test_id].value})"
        broke = sorted(
            t
            for t, before in reference.items()
            if before is Outcome.PASSED and now.get(t) is not Outcome.PASSED
        )
        if broke:
            return f"with it, {len(broke)} other test(s) fail: {', '.join(broke[:3])}"
        return None


def weakening(before_root: Path, after_root: Path, paths: list[str]) -> str | None:
    """Why the change weakens a test, if it does: an assertion changed or removed in a test
    file, or a sleep, retry, skip, xfail or flaky marker added anywhere."""
    for path in paths:
        old, new = before_root / path, after_root / path
        before = old.read_text(encoding="utf-8") if old.is_file() else ""
        after = new.read_text(encoding="utf-8") if new.is_file() else ""
        try:
            if is_test_file(path):
                check_patch(Patch(path, before or "\n", after or "\n", "the patch"))
            else:
                check_added_calls(Patch(path, before or "\n", after or "\n", "the patch"))
        except FixError as exc:
            return f"{path}: {exc}"
        except SyntaxError as exc:
            return f"{path}: not valid Python after the patch ({exc.msg}, line {exc.lineno})"
    return None
