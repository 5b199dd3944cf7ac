"""The active flaky scan: the suite rerun in fresh pytest processes (same order, seeded
shuffles, each failing test alone), then the searches for each suspect, side by side.

``flaky.active`` judges the trials; ``api.flaky_search`` runs the experiments and the polluter
searches. Every process goes through the workspace's executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from greenline import vcs
from greenline.api.flaky_search import experiment, find_culprits
from greenline.api.flaky_trials import ScanReport, TrialRunner, is_failed, report_to_json
from greenline.api.workspace import Workspace
from greenline.errors import UsageError
from greenline.executor import Executor
from greenline.flaky.active import Trial, TrialKind, judge_scan, steady_by_luck
from greenline.flaky.experiments import SIGNIFICANCE
from greenline.model import FlakyCategory, FlakyVerdict, Outcome, Verdict
from greenline.store import writes

#: Progress: (what is running, trials done, trials planned).
Progress = Callable[[str, int, int], None]
MAX_VICTIMS = 10
ISOLATED_RUNS = 2
EXTRA_ISOLATED = 6  # more runs alone, at most, to tell order-dependence from luck
#: a trial to run: its kind, the tests (none: the suite) and the shuffle seed
_Planned = tuple[TrialKind, tuple[str, ...], int | None]


class _Scan:
    """One scan's trials so far, its time budget, its workers and its progress reports."""

    def __init__(
        self,
        runner: TrialRunner,
        workers: int,
        budget_seconds: float | None,
        progress: Progress | None,
    ) -> None:
        self.runner = runner
        self.executor: Executor = runner.executor
        self.workers = max(1, workers)
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

    def _many(self, plan: Iterable[_Planned], what: str) -> None:
        """Run the planned trials on the scan's workers, counting each as it ends."""
        planned = list(plan)
        self.planned += len(planned)

        def work(p: _Planned) -> Trial:
            return self.runner.run(p[0], p[1], seed=p[2])

        for trial in self.executor.concurrently(work, planned, self.workers):
            self.trials.append(trial)
            self.tick(what)

    def rerun(self, runs: int) -> None:
        """The suite again: every fourth run in the collected order, the others shuffled."""
        self._many(
            (
                (TrialKind.SAME_ORDER, (), None) if i % 4 == 0 else (TrialKind.SHUFFLED, (), i)
                for i in range(1, runs)
            ),
            "reruns",
        )

    def isolate(self, wanted: Sequence[str]) -> None:
        """Each wanted test that failed somewhere, alone in fresh processes."""
        if self.out_of_time():
            return
        suspects = [t for t in wanted if any(is_failed(tr.outcomes.get(t)) for tr in self.trials)]
        alone = [(TrialKind.ISOLATED, (t,), None) for t in suspects for _ in range(ISOLATED_RUNS)]
        self._many(alone, "each failing test alone")

    def confirm_order(self, verdicts: list[FlakyVerdict]) -> None:
        """Run each order-dependent suspect alone again while its steadiness could still be
        luck (up to ``EXTRA_ISOLATED`` more runs): a test that flips by itself shows it."""
        for _ in range(EXTRA_ISOLATED):
            doubtful = [
                i
                for i, v in enumerate(verdicts)
                if v.category is FlakyCategory.ORDER_DEPENDENT
                and steady_by_luck(v.test_id, self.trials) > SIGNIFICANCE
            ]
            if not doubtful or self.out_of_time():
                return
            ids = [(TrialKind.ISOLATED, (verdicts[i].test_id,), None) for i in doubtful]
            self._many(ids, "order-dependent suspects alone")
            for i in doubtful:
                verdicts[i] = judge_scan(verdicts[i].test_id, self.trials)

    def side_by_side(self, verdicts: list[FlakyVerdict], indices: list[int], step: _Step) -> None:
        """Replace each ``verdicts[i]`` by ``step`` on it, on the scan's workers (in budget)."""

        def one(i: int) -> FlakyVerdict:
            if self.out_of_time():
                return verdicts[i]
            return step(verdicts[i], self.trials, self.runner, self.tick)

        done = list(self.executor.concurrently(one, indices, self.workers))
        for i, verdict in zip(indices, done, strict=True):
            verdicts[i] = verdict


_Step = Callable[[FlakyVerdict, list[Trial], TrialRunner, Callable[[str], None]], FlakyVerdict]


def scan_flaky(
    ws: Workspace,
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
    may be a polluter). A scan of the suite as configured is stored for fix and explain."""
    if runs < 2:
        raise UsageError(f"--runs {runs}: too few to tell", hint="at least 2 (10 is a good start)")
    runner = TrialRunner(ws.executor, ws.workdir, pytest_args, timeout=None)
    scan = _Scan(runner, workers, budget_seconds, progress)
    first = scan.first_run()
    wanted = list(test_ids) or list(first.order)
    unknown = [t for t in wanted if t not in first.outcomes]
    if unknown:
        raise UsageError(
            f"not in the suite: {', '.join(unknown[:3])}",
            hint="pass test ids as pytest collects them (greenline tests lists them)",
        )
    scan.rerun(runs)
    scan.isolate(wanted)
    verdicts = [judge_scan(t, scan.trials) for t in wanted]
    scan.confirm_order(verdicts)
    # who each order-dependent test depends on (one search per victim, side by side)
    order = [i for i, v in enumerate(verdicts) if v.category is FlakyCategory.ORDER_DEPENDENT]
    scan.side_by_side(verdicts, order[:MAX_VICTIMS], find_culprits)
    # what else decides the others (their experiments side by side)
    others = [
        i
        for i, v in enumerate(verdicts)
        if v.verdict is Verdict.FLAKY and v.category is not FlakyCategory.ORDER_DEPENDENT
    ]
    scan.side_by_side(verdicts, others, experiment)
    report = _report(scan, verdicts, first)
    if not pytest_args:
        _store_scan(ws, report, datetime.now(UTC) - timedelta(seconds=scan.elapsed()))
    return report


def _report(scan: _Scan, verdicts: list[FlakyVerdict], first: Trial) -> ScanReport:
    rank = {Verdict.FLAKY: 0, Verdict.FAILING: 1, Verdict.STABLE: 2}
    verdicts.sort(key=lambda v: (rank[v.verdict], v.test_id))
    messages: dict[str, list[str]] = {}
    for trial in scan.trials:
        for test, outcome in trial.outcomes.items():
            if is_failed(outcome):
                messages.setdefault(test, [])
                if test in trial.messages:
                    messages[test].append(trial.messages[test])
    reference: dict[str, Outcome] = dict(first.outcomes)
    return ScanReport(
        verdicts,
        scan.runner.count,
        scan.elapsed(),
        scan.stopped,
        reference,
        frozenset(messages),
        {t: tuple(m) for t, m in messages.items()},
        _leaks(scan.runner, verdicts),
    )


def _leaks(runner: TrialRunner, verdicts: list[FlakyVerdict]) -> dict[str, tuple[Any, ...]]:
    """What each order-dependent test's polluters leave changed, as the scan's state runs saw
    it (after the last polluter)."""
    out: dict[str, tuple[Any, ...]] = {}
    for v in verdicts:
        rows = runner.states.get((v.polluters, v.test_id)) if v.polluters else None
        last = next((r for r in reversed(rows or []) if r["test_id"] == v.polluters[-1]), None)
        if last and last["changed"]:
            out[v.test_id] = tuple(last["changed"])
    return out


def _store_scan(ws: Workspace, report: ScanReport, started_at: datetime) -> None:
    with ws.store.write() as conn:
        repo_id = writes.ensure_repository(conn, ws.repository, str(ws.root))
        writes.insert_flaky_scan(
            conn,
            repo_id,
            vcs.read_commit(ws.root),
            started_at,
            report.trials,
            report.seconds,
            report_to_json(report),
        )
