"""The facade's active flaky scan: reruns in fresh pytest processes, then polluter search.

Trials: the suite again in its collected order, in seeded random orders, and each test that
failed somewhere alone. ``flaky.active`` judges them; for an order-dependent test
``flaky.polluters`` proposes the smaller runs that find its polluter (or state-setter), and the
tests that clean up after it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.errors import UsageError
from greenline.executor import run_quiet
from greenline.flaky.active import Trial, TrialKind, judge_scan
from greenline.flaky.experiments import (
    CAUSE,
    Condition,
    attributes,
    chance_agreement,
    runs_needed,
)
from greenline.flaky.polluters import DeltaSearch
from greenline.model import Evidence, EvidenceKind, FlakyCategory, FlakyVerdict, Outcome, Verdict

if TYPE_CHECKING:
    from greenline.store import Store

#: Progress: (what is running, trials done, trials planned).
Progress = Callable[[str, int, int], None]
MAX_VICTIMS = 10
MAX_CLEANER_CANDIDATES = 20
ISOLATED_RUNS = 2
#: Uncontrolled runs alone before experiments, to know how often the test fails by itself.
EXPERIMENT_BASELINE = 6


@dataclass(frozen=True, slots=True)
class ScanReport:
    verdicts: list[FlakyVerdict]
    trials: int
    seconds: float
    stopped_by_budget: bool
    #: how every test ended in the scan's first run (the suite as it is)
    reference: dict[str, Outcome] = field(default_factory=dict)
    #: tests that failed in some run of the scan (flaky or failing: no reference for a fix)
    unreliable: frozenset[str] = frozenset()


def _failed(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.is_failure


class _Runner:
    """Runs one trial: a fresh pytest process that writes each test's outcome."""

    def __init__(self, workdir: Path, pytest_args: Sequence[str], timeout: float | None) -> None:
        self.workdir = workdir
        self.pytest_args = list(pytest_args)
        self.timeout = timeout
        self.count = 0
        self.scratch = Path(tempfile.mkdtemp(prefix="greenline-scan-"))

    def run(
        self,
        kind: TrialKind,
        tests: Sequence[str] = (),
        seed: int | None = None,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> Trial:
        self.count += 1
        out = self.scratch / f"trial-{self.count}.jsonl"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        argv += ["-p", "no:randomly", f"--greenline-outcomes={out}"]
        if seed is not None:
            argv.append(f"--greenline-order={seed}")
        argv += [*extra, *tests] if tests else [*extra, *self.pytest_args]
        start = time.monotonic()
        # a distinct, known hash seed per run: set and dict order vary between runs (as they
        # would in CI) yet a scan is repeatable
        env = {"PYTHONHASHSEED": str(self.count), **(env or {})}
        run_quiet(argv, self.workdir, env=env, timeout=self.timeout)
        seconds = time.monotonic() - start
        order, outcomes, messages = [], {}, {}
        if out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                order.append(row["test_id"])
                outcomes[row["test_id"]] = Outcome(row["outcome"])
                if row.get("message"):
                    messages[row["test_id"]] = row["message"]
        return Trial(kind, tuple(order), outcomes, messages, seed, seconds)


class _Scan:
    """One scan's trials so far, its time budget and its progress reports."""

    def __init__(
        self, runner: _Runner, budget_seconds: float | None, progress: Progress | None
    ) -> None:
        self.runner = runner
        self.start = time.monotonic()
        self.deadline = self.start + budget_seconds if budget_seconds else None
        self.progress = progress
        self.trials: list[Trial] = []
        self.planned = 0
        self.stopped = False

    def tick(self, what: str) -> None:
        if self.progress:
            self.progress(what, len(self.trials), max(self.planned, len(self.trials)))

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stopped = True
        return self.stopped

    def elapsed(self) -> float:
        return round(time.monotonic() - self.start, 2)

    def first_run(self) -> Trial:
        first = self.runner.run(TrialKind.SAME_ORDER)
        if not first.order:
            raise UsageError(
                "the scan's first run collected no tests",
                hint="run pytest yourself to see why (pass its arguments after --)",
            )
        self.runner.timeout = max(60.0, 20 * first.seconds)  # a hung test ends its trial
        self.trials.append(first)
        return first

    def rerun(self, pool: ThreadPoolExecutor, runs: int) -> None:
        """The suite again: every fourth run in the collected order, the others shuffled."""
        self.planned += runs - 1
        plan = [
            (TrialKind.SAME_ORDER, None) if i % 4 == 0 else (TrialKind.SHUFFLED, i)
            for i in range(1, runs)
        ]
        for trial in pool.map(lambda p: self.runner.run(p[0], seed=p[1]), plan):
            self.trials.append(trial)
            self.tick("reruns")

    def isolate(self, pool: ThreadPoolExecutor, wanted: Sequence[str]) -> None:
        """Each wanted test that failed somewhere, alone in fresh processes."""
        if self.out_of_time():
            return
        suspects = [t for t in wanted if any(_failed(tr.outcomes.get(t)) for tr in self.trials)]
        alone = [t for t in suspects for _ in range(ISOLATED_RUNS)]
        self.planned += len(alone)
        for trial in pool.map(lambda t: self.runner.run(TrialKind.ISOLATED, (t,)), alone):
            self.trials.append(trial)
            self.tick("each failing test alone")


class ScanApi:
    """Mixed into Greenline (which provides the working directory)."""

    workdir: Path
    store: Store

    def scan_flaky(
        self,
        test_ids: Sequence[str] = (),
        *,
        runs: int = 10,
        budget_seconds: float | None = None,
        workers: int = 1,
        pytest_args: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> ScanReport:
        """Rerun the suite (same order, shuffled, each failing test alone) and judge each test;
        find the polluters and cleaners of order-dependent ones, and run experiments on the
        others. ``test_ids`` narrows the verdicts (the whole suite still runs, since any test
        may be a polluter)."""
        if runs < 2:
            raise UsageError(
                f"--runs {runs}: too few to tell", hint="at least 2 (10 is a good start)"
            )
        scan = _Scan(_Runner(self.workdir, pytest_args, timeout=None), budget_seconds, progress)
        first = scan.first_run()
        wanted = list(test_ids) or list(first.order)
        unknown = [t for t in wanted if t not in first.outcomes]
        if unknown:
            raise UsageError(
                f"not in the suite: {', '.join(unknown[:3])}",
                hint="pass test ids as pytest collects them (greenline tests lists them)",
            )
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            scan.rerun(pool, runs)
            scan.isolate(pool, wanted)
        verdicts = [judge_scan(t, scan.trials) for t in wanted]
        victims = [i for i, v in enumerate(verdicts) if v.category is FlakyCategory.ORDER_DEPENDENT]
        for i in victims[:MAX_VICTIMS]:  # who it depends on, for order-dependent tests
            if scan.out_of_time():
                break
            verdicts[i] = self._find_culprits(verdicts[i], scan.trials, scan.runner, scan.tick)
        for i, verdict in enumerate(verdicts):  # what else decides the others
            if verdict.verdict is Verdict.FLAKY and verdict.category is not (
                FlakyCategory.ORDER_DEPENDENT
            ):
                if scan.out_of_time():
                    break
                verdicts[i] = self._experiment(verdict, scan.trials, scan.runner, scan.tick)
        rank = {Verdict.FLAKY: 0, Verdict.FAILING: 1, Verdict.STABLE: 2}
        verdicts.sort(key=lambda v: (rank[v.verdict], v.test_id))
        unreliable = frozenset(
            t for trial in scan.trials for t, o in trial.outcomes.items() if _failed(o)
        )
        return ScanReport(
            verdicts,
            scan.runner.count,
            scan.elapsed(),
            scan.stopped,
            dict(first.outcomes),
            unreliable,
        )

    def _experiment(
        self,
        verdict: FlakyVerdict,
        trials: list[Trial],
        runner: _Runner,
        tick: Callable[[str], None],
    ) -> FlakyVerdict:
        """Alone, does a fixed hash seed or a seeded ``random`` make the test agree with itself?"""
        test_id = verdict.test_id

        def alone(condition: Condition | None) -> list[bool]:
            return [
                _failed(t.outcomes.get(test_id))
                for t in trials
                if t.kind is TrialKind.ISOLATED
                and t.order == (test_id,)
                and t.condition == (condition.value if condition else "")
            ]

        def run_alone(condition: Condition | None, times: int) -> None:
            extra: list[str] = []
            env: dict[str, str] = {}
            if condition is Condition.HASH_SEED:
                env = {"PYTHONHASHSEED": "0"}
            elif condition is Condition.RANDOM_SEED:
                extra = ["--greenline-seed=0"]
            for _ in range(times):
                trial = runner.run(TrialKind.ISOLATED, (test_id,), extra=extra, env=env)
                trials.append(replace(trial, condition=condition.value if condition else ""))
                tick(f"experiments on {test_id.rsplit('::', 1)[-1]}")

        run_alone(None, max(0, EXPERIMENT_BASELINE - len(alone(None))))
        free = alone(None)
        rate = sum(free) / len(free) if free else 0.0
        needed = runs_needed(rate) if 0 < rate < 1 else None
        if needed is None:
            return verdict
        for condition in Condition:
            run_alone(condition, needed)
            outcomes = alone(condition)
            if attributes(outcomes, rate):
                chance = chance_agreement(rate, len(outcomes))
                what = "failed" if outcomes[0] else "passed"
                note = Evidence(
                    EvidenceKind.EXPERIMENT,
                    f"alone it failed {sum(free)} of {len(free)} runs; with a {condition.value} "
                    f"it {what} all {len(outcomes)} (chance agreement {chance:.3f})",
                )
                return replace(
                    verdict, category=CAUSE[condition], evidence=(*verdict.evidence, note)
                )
        return verdict

    def _find_culprits(
        self,
        victim: FlakyVerdict,
        trials: list[Trial],
        runner: _Runner,
        tick: Callable[[str], None],
    ) -> FlakyVerdict:
        test_id = victim.test_id
        fails_alone = any(
            t.kind is TrialKind.ISOLATED
            and t.outcomes.get(test_id) in (Outcome.FAILED, Outcome.ERROR)
            for t in trials
        )
        # a polluter: the smallest prefix that still breaks it; a state-setter: that fixes it
        want_failure = not fails_alone
        source = next(
            (
                t
                for t in trials
                if t.kind is not TrialKind.ISOLATED
                and (t.outcomes.get(test_id) in (Outcome.FAILED, Outcome.ERROR)) == want_failure
                and test_id in t.order
            ),
            None,
        )
        if source is None:
            return victim
        before = source.order[: source.order.index(test_id)]

        def reproduces(prefix: Sequence[str]) -> bool:
            trial = runner.run(TrialKind.SHUFFLED, (*prefix, test_id))
            trials.append(trial)
            tick(f"searching what {test_id.rsplit('::', 1)[-1]} depends on")
            failed = trial.outcomes.get(test_id) in (Outcome.FAILED, Outcome.ERROR)
            return failed == want_failure

        search = DeltaSearch(before)
        while (step := search.next_trial()) is not None:
            search.record(reproduces(step))
        if search.result is None:  # no order reproduces it: not order after all
            note = Evidence(EvidenceKind.ORDER, "rerunning the tests before it did not reproduce")
            return replace(
                victim, category=FlakyCategory.UNKNOWN, evidence=(*victim.evidence, note)
            )
        culprits = search.result
        role = "polluter" if want_failure else "state-setter"
        evidence = [
            *victim.evidence,
            Evidence(
                EvidenceKind.POLLUTER,
                f"{role}: running {', '.join(culprits)} first makes it "
                + ("fail" if want_failure else "pass")
                + f" ({search.trials} runs of delta debugging)",
            ),
        ]
        cleaners: list[str] = []
        if want_failure:
            others = [t for t in source.order if t not in culprits and t != test_id]
            same_file = [t for t in others if t.split("::")[0] == test_id.split("::")[0]]
            rest = [t for t in others if t not in same_file]
            for candidate in (same_file + rest)[:MAX_CLEANER_CANDIDATES]:
                trial = runner.run(TrialKind.SHUFFLED, (*culprits, candidate, test_id))
                trials.append(trial)
                tick(f"looking for tests that clean up after {culprits[0].rsplit('::', 1)[-1]}")
                if trial.outcomes.get(test_id) is Outcome.PASSED:
                    cleaners.append(candidate)
            if cleaners:
                evidence.append(
                    Evidence(
                        EvidenceKind.CLEANER,
                        f"run between them, {', '.join(cleaners)} makes it pass",
                    )
                )
        return replace(
            victim,
            evidence=tuple(evidence),
            polluters=tuple(culprits),
            cleaners=tuple(cleaners),
        )
