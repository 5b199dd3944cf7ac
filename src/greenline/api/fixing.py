"""The facade's flaky-test fixer: synthesise patches for a test's root cause and offer only those
that survive verification in a scratch copy of the project."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api.scanning import ScanApi, ScanReport, _Runner, pytest_argv
from greenline.errors import NoDataError, UsageError
from greenline.executor import run_quiet
from greenline.flaky.experiments import CLOCK_INSTANTS, FIX_INSTANTS
from greenline.flaky.fixes import FixError, Patch, borrow_reset, restore_state, seed_random
from greenline.flaky.rewrites import approx_floats, check_patch, freeze_clock, sort_unordered
from greenline.model import FlakyCategory, FlakyVerdict, Outcome, Verdict

if TYPE_CHECKING:
    from greenline.api.scanning import Progress

#: A verified fix passes this many runs under the condition that made the test fail.
VERIFY_RUNS = 60
#: fewer runs than this prove too little to call a patch verified
MIN_VERIFY_RUNS = 10
#: seeds a randomness fix tries (the first under which the test passes wins)
SEEDS = (0, 1, 2, 3, 4)
SCRATCH_IGNORE = shutil.ignore_patterns(".git", ".greenline", "__pycache__", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class FixResult:
    verdict: FlakyVerdict
    patch: Patch | None  # a verified patch, or None
    verified_runs: int
    tried: tuple[str, ...]  # what was tried and why it was not offered
    applied: bool = False
    scan: str = ""  # which scan the root cause came from


class FixApi(ScanApi):
    """Mixed into Greenline (which provides the working directory)."""

    def fix_flaky(
        self,
        test_id: str,
        *,
        apply: bool = False,
        workers: int = 2,
        rescan: bool = False,
        verify_runs: int = VERIFY_RUNS,
        progress: Progress | None = None,
    ) -> FixResult:
        """Take the test's root cause from the newest scan of this commit (or scan it now),
        synthesise patches for it, verify each (``verify_runs`` runs under its failing
        condition, then the whole suite) and return the first that holds."""
        if verify_runs < MIN_VERIFY_RUNS:
            raise UsageError(
                f"--verify-runs {verify_runs}: too few to call a patch verified",
                hint=f"at least {MIN_VERIFY_RUNS} (the default, {VERIFY_RUNS}, is the proof "
                "greenline stands behind)",
            )
        stored = None if rescan else self.stored_scan(test_id)
        if stored is not None:
            started_at, report = stored
            source = f"the scan of {started_at:%Y-%m-%d %H:%M} UTC ({report.trials} runs)"
        else:
            report = self.scan_flaky([test_id], runs=10, workers=workers, progress=progress)
            source = f"a new scan ({report.trials} runs)"
        verdict = next(v for v in report.verdicts if v.test_id == test_id)
        if verdict.verdict is not Verdict.FLAKY:
            raise NoDataError(
                f"{test_id} is {verdict.verdict.value} in {verdict.runs} runs: nothing to fix",
                hint=f"judged by {source}. A test that fails every time is a real failure; "
                "one that never failed needs more runs: greenline flaky scan --runs 50",
            )
        tried: list[str] = []
        reference = {t: o for t, o in report.reference.items() if t not in report.unreliable}
        for patch in self._candidates(verdict, report, tried):
            if progress:
                progress(f"verifying: {patch.description}", 0, verify_runs)
            failure = self._verify(patch, verdict, reference, workers, verify_runs)
            if failure is None:
                if apply:
                    (self.workdir / patch.path).write_text(patch.after, encoding="utf-8")
                return FixResult(verdict, patch, verify_runs, tuple(tried), apply, source)
            tried.append(f"{patch.description}: {failure}")
        return FixResult(verdict, None, 0, tuple(tried), False, source)

    def _candidates(
        self, verdict: FlakyVerdict, report: ScanReport, tried: list[str]
    ) -> list[Patch]:
        """Patches for the test's root cause, each already checked to keep every assertion."""
        path, _, name = verdict.test_id.partition("::")
        source = (self.workdir / path).read_text(encoding="utf-8")
        category = verdict.category
        makers: list[tuple[str, Callable[[], Patch]]] = []
        if category is FlakyCategory.ORDER_DEPENDENT:
            makers = self._order_fixes(verdict, path, source, name, tried)
        elif category is FlakyCategory.RANDOMNESS:
            makers = [
                (f"seed {seed}", partial(seed_random, path, source, name, seed)) for seed in SEEDS
            ]
        elif category is FlakyCategory.UNORDERED_COLLECTION:
            makers = [("sorted sets", partial(sort_unordered, path, source, name))]
        elif category is FlakyCategory.FLOATING_POINT:
            messages = list(report.messages.get(verdict.test_id, ()))
            makers = [("approx", partial(approx_floats, path, source, name, messages))]
        elif category is FlakyCategory.TIME:
            makers = [
                (f"clock at {at}", partial(freeze_clock, path, source, name, at))
                for at in CLOCK_INSTANTS[:FIX_INSTANTS]
            ]
        else:
            tried.append(
                f"no fix is synthesised for {category.value} flakiness: it needs a change to "
                "the code under test or its environment (see greenline flaky explain)"
            )
        out: list[Patch] = []
        for what, make in makers:
            try:
                patch = make()
                check_patch(patch)
            except (FixError, SyntaxError) as exc:
                tried.append(f"{what}: {exc}")
            else:
                out.append(patch)
        return out

    def _order_fixes(
        self, verdict: FlakyVerdict, path: str, source: str, name: str, tried: list[str]
    ) -> list[tuple[str, Callable[[], Patch]]]:
        """Borrow a cleaner's (or a state-setter's) statements; else restore what the
        polluter leaves changed."""
        donors = [(c, "cleaner") for c in verdict.cleaners]
        alone = _fails_alone(verdict)
        if alone and len(verdict.polluters) == 1:
            donors.append((verdict.polluters[0], "state-setter"))
        makers: list[tuple[str, Callable[[], Patch]]] = []
        for donor, role in donors[:5]:
            donor_source = (self.workdir / donor.split("::", 1)[0]).read_text(encoding="utf-8")
            makers.append(
                (
                    f"borrowing from {donor}",
                    partial(borrow_reset, path, source, name, donor_source, donor, role),
                )
            )
        if verdict.polluters and not alone:
            runner = _Runner(self.workdir, (), timeout=120)
            leaks = self._leaks(runner, verdict.polluters, verdict.test_id)
            makers.append(
                ("restoring leaked state", partial(restore_state, path, source, name, leaks))
            )
        if not makers:
            tried.append("no polluter or state-setter was found to learn the state from")
        return makers

    def _verify(
        self,
        patch: Patch,
        verdict: FlakyVerdict,
        reference: dict[str, Outcome],
        workers: int,
        verify_runs: int,
    ) -> str | None:
        """None when the patch holds; else what went wrong. ``reference`` is how every test
        that never failed in the scan ended in the unpatched suite: each must still pass (tests
        that flake by themselves are no evidence against the patch)."""
        scratch = Path(tempfile.mkdtemp(prefix="greenline-fix-")) / "project"
        shutil.copytree(self.workdir, scratch, ignore=SCRATCH_IGNORE)
        (scratch / patch.path).write_text(patch.after, encoding="utf-8")
        try:
            condition = (
                [*verdict.polluters, verdict.test_id]
                if not _fails_alone(verdict)
                else [verdict.test_id]
            )

            def once(i: int) -> int | None:
                argv = pytest_argv(*condition)
                # a different hash seed each run: set order varies as it did when it failed
                return run_quiet(argv, scratch, env={"PYTHONHASHSEED": str(i + 1)}, timeout=120)

            batch = max(2, workers)  # stop at the first batch with a failure
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for start in range(0, verify_runs, batch):
                    runs = range(start, min(start + batch, verify_runs))
                    bad = sum(code != 0 for code in pool.map(once, runs))
                    if bad:
                        return (
                            f"failed {bad} of runs {start + 1}-{runs[-1] + 1} (of "
                            f"{verify_runs}) under its failing condition"
                        )
            outcomes = scratch.parent / "suite.jsonl"
            argv = pytest_argv(f"--greenline-outcomes={outcomes}")
            run_quiet(argv, scratch, timeout=1800)
            now = _read_outcomes(outcomes)
            broke = sorted(
                t
                for t, before in reference.items()
                if before is Outcome.PASSED and now.get(t) is not Outcome.PASSED
            )
            if broke:
                return f"with it, {len(broke)} other test(s) fail: {', '.join(broke[:3])}"
            return None
        finally:
            shutil.rmtree(scratch.parent, ignore_errors=True)


def _fails_alone(verdict: FlakyVerdict) -> bool:
    return any("fails alone" in e.detail for e in verdict.evidence)


def _read_outcomes(path: Path) -> dict[str, Outcome]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["test_id"]: Outcome(row["outcome"]) for row in rows}
