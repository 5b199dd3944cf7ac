"""The facade's flaky-test fixer: synthesise patches for a test's root cause and offer only those
that survive verification in a scratch copy of the project."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api.scanning import ScanApi
from greenline.errors import NoDataError
from greenline.executor import run_quiet
from greenline.flaky.fixes import FixError, Patch, borrow_reset, seed_random
from greenline.model import FlakyCategory, FlakyVerdict, Outcome, Verdict

if TYPE_CHECKING:
    from greenline.api.scanning import Progress

#: A verified fix passes this many runs under the condition that made the test fail.
VERIFY_RUNS = 60
SCRATCH_IGNORE = shutil.ignore_patterns(".git", ".greenline", "__pycache__", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class FixResult:
    verdict: FlakyVerdict
    patch: Patch | None  # a verified patch, or None
    verified_runs: int
    tried: tuple[str, ...]  # what was tried and why it was not offered
    applied: bool = False


class FixApi(ScanApi):
    """Mixed into Greenline (which provides the working directory)."""

    def fix_flaky(
        self,
        test_id: str,
        *,
        apply: bool = False,
        workers: int = 2,
        progress: Progress | None = None,
    ) -> FixResult:
        """Scan the test, synthesise patches for its root cause, verify each (VERIFY_RUNS runs
        under its failing condition, then the whole suite) and return the first that holds."""
        report = self.scan_flaky([test_id], runs=10, workers=workers, progress=progress)
        verdict = report.verdicts[0]
        if verdict.verdict is not Verdict.FLAKY:
            raise NoDataError(
                f"{test_id} is {verdict.verdict.value} in {verdict.runs} runs: nothing to fix",
                hint="a test that fails every time is a real failure; one that never fails "
                "needs more runs: greenline flaky scan --runs 50",
            )
        tried: list[str] = []
        for patch in self._candidates(verdict, tried):
            reference = {t: o for t, o in report.reference.items() if t not in report.unreliable}
            failure = self._verify(patch, verdict, reference, workers)
            if failure is None:
                if apply:
                    (self.workdir / patch.path).write_text(patch.after, encoding="utf-8")
                return FixResult(verdict, patch, VERIFY_RUNS, tuple(tried), applied=apply)
            tried.append(f"{patch.description}: {failure}")
        return FixResult(verdict, None, 0, tuple(tried))

    def _candidates(self, verdict: FlakyVerdict, tried: list[str]) -> list[Patch]:
        path, _, name = verdict.test_id.partition("::")
        file = self.workdir / path
        source = file.read_text(encoding="utf-8")
        out: list[Patch] = []
        if verdict.category is FlakyCategory.ORDER_DEPENDENT:
            donors = [(c, "cleaner") for c in verdict.cleaners]
            if not verdict.cleaners and len(verdict.polluters) == 1 and _fails_alone(verdict):
                donors.append((verdict.polluters[0], "state-setter"))
            for donor, role in donors[:5]:
                donor_path = donor.split("::", 1)[0]
                donor_source = (self.workdir / donor_path).read_text(encoding="utf-8")
                try:
                    out.append(borrow_reset(path, source, name, donor_source, donor, role))
                except (FixError, SyntaxError) as exc:
                    tried.append(f"borrowing from {donor}: {exc}")
            if not donors:
                tried.append("no test was found that cleans up after the polluter")
        elif verdict.category is FlakyCategory.RANDOMNESS:
            out.append(seed_random(path, source, name))
        else:
            tried.append(f"no fix is synthesised for {verdict.category.value} flakiness yet")
        return out

    def _verify(
        self, patch: Patch, verdict: FlakyVerdict, reference: dict[str, Outcome], workers: int
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

            def once(_: int) -> int | None:
                argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *condition]
                return run_quiet(argv, scratch, timeout=120)

            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                codes = list(pool.map(once, range(VERIFY_RUNS)))
            bad = sum(code != 0 for code in codes)
            if bad:
                return f"failed {bad} of {VERIFY_RUNS} runs under its failing condition"
            outcomes = scratch.parent / "suite.jsonl"
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            run_quiet([*argv, f"--greenline-outcomes={outcomes}"], scratch, timeout=1800)
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
