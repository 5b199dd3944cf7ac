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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenline import vcs
from greenline.errors import UsageError
from greenline.executor import run_quiet
from greenline.flaky.active import Trial, TrialKind, judge_scan, steady_by_luck
from greenline.flaky.causes import guess_category, with_observations
from greenline.flaky.experiments import (
    CAUSE,
    CLOCK_INSTANTS,
    SIGNIFICANCE,
    Condition,
    Experiment,
)
from greenline.flaky.fixes import Leak
from greenline.flaky.polluters import DeltaSearch
from greenline.model import Evidence, EvidenceKind, FlakyCategory, FlakyVerdict, Outcome, Verdict
from greenline.store import reads, writes

if TYPE_CHECKING:
    from greenline.store import Store

#: Progress: (what is running, trials done, trials planned).
Progress = Callable[[str, int, int], None]
MAX_VICTIMS = 10
MAX_CLEANER_CANDIDATES = 20
ISOLATED_RUNS = 2
EXTRA_ISOLATED = 6  # more runs alone, at most, to tell order-dependence from luck
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
    #: each failing test's failure messages across the scan
    messages: dict[str, tuple[str, ...]] = field(default_factory=dict)


def report_to_json(report: ScanReport) -> str:
    """A scan report as stored (and read back by ``report_from_json``)."""
    return json.dumps(
        {
            "verdicts": [
                {
                    "test_id": v.test_id,
                    "verdict": v.verdict.value,
                    "category": v.category.value,
                    "confidence": v.confidence,
                    "evidence": [{"kind": e.kind.value, "detail": e.detail} for e in v.evidence],
                    "runs": v.runs,
                    "failures": v.failures,
                    "wasted_seconds": v.wasted_seconds,
                    "polluters": list(v.polluters),
                    "cleaners": list(v.cleaners),
                }
                for v in report.verdicts
            ],
            "trials": report.trials,
            "seconds": report.seconds,
            "stopped_by_budget": report.stopped_by_budget,
            "reference": {t: o.value for t, o in report.reference.items()},
            "unreliable": sorted(report.unreliable),
            "messages": {t: list(m) for t, m in report.messages.items()},
        }
    )


def report_from_json(text: str) -> ScanReport:
    doc = json.loads(text)
    verdicts = [
        FlakyVerdict(
            test_id=v["test_id"],
            verdict=Verdict(v["verdict"]),
            category=FlakyCategory(v["category"]),
            confidence=v["confidence"],
            evidence=tuple(Evidence(EvidenceKind(e["kind"]), e["detail"]) for e in v["evidence"]),
            runs=v["runs"],
            failures=v["failures"],
            wasted_seconds=v["wasted_seconds"],
            polluters=tuple(v["polluters"]),
            cleaners=tuple(v["cleaners"]),
        )
        for v in doc["verdicts"]
    ]
    return ScanReport(
        verdicts,
        doc["trials"],
        doc["seconds"],
        doc["stopped_by_budget"],
        {t: Outcome(o) for t, o in doc["reference"].items()},
        frozenset(doc["unreliable"]),
        {t: tuple(m) for t, m in doc["messages"].items()},
    )


def _failed(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.is_failure


class _Runner:
    """Runs one trial: a fresh pytest process that writes each test's outcome."""

    def __init__(self, workdir: Path, pytest_args: Sequence[str], timeout: float | None) -> None:
        self.workdir = workdir
        self.pytest_args = list(pytest_args)
        self.timeout = timeout
        self.count = 0
        self.extra = 0  # probe and state runs, which are not trials
        self.lock = threading.Lock()  # trials run from several threads at once
        self.scratch = Path(tempfile.mkdtemp(prefix="greenline-scan-"))

    def run(
        self,
        kind: TrialKind,
        tests: Sequence[str] = (),
        seed: int | None = None,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> Trial:
        number = self._next()
        out = self.scratch / f"trial-{number}.jsonl"
        argv = pytest_argv("-p", "no:randomly", f"--greenline-outcomes={out}")
        if seed is not None:
            argv.append(f"--greenline-order={seed}")
        argv += [*extra, *tests] if tests else [*extra, *self.pytest_args]
        start = time.monotonic()
        # a distinct, known hash seed per run: set and dict order vary between runs (as they
        # would in CI) yet a scan is repeatable
        env = {"PYTHONHASHSEED": str(number), **(env or {})}
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

    def _next(self, counted: bool = True) -> int:
        """A number no other run of this scan has (``counted``: a trial of the scan)."""
        with self.lock:
            if counted:
                self.count += 1
                return self.count
            self.extra += 1
            return -self.extra

    def probe(self, test_id: str) -> dict[str, list[str]]:
        """What ``test_id`` touches when it runs alone (not counted as a trial)."""
        out = self.scratch / f"probe-{self._next(counted=False)}.jsonl"
        argv = pytest_argv("-p", "no:randomly", f"--greenline-probe={out}", test_id)
        run_quiet(argv, self.workdir, timeout=self.timeout)
        rows = _read_jsonl(out)
        row = next((r for r in rows if r.get("test_id") == test_id), {})
        return {k: v for k, v in row.items() if k != "test_id"}

    def state(self, before: Sequence[str], test_id: str) -> list[dict[str, Any]]:
        """The module-level state each of ``before`` then ``test_id`` left changed."""
        out = self.scratch / f"state-{self._next(counted=False)}.jsonl"
        argv = pytest_argv("-p", "no:randomly", f"--greenline-state={out}", *before, test_id)
        run_quiet(argv, self.workdir, timeout=self.timeout)
        return _read_jsonl(out)


def pytest_argv(*args: str) -> list[str]:
    """A quiet pytest run in this interpreter with greenline's plugin named explicitly (so its
    options work even where ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` turns plugin discovery off)."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "greenline",
        *args,
    ]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


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

    def confirm_order(self, pool: ThreadPoolExecutor, verdicts: list[FlakyVerdict]) -> None:
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
            self.planned += len(doubtful)
            ids = [verdicts[i].test_id for i in doubtful]
            for trial in pool.map(lambda t: self.runner.run(TrialKind.ISOLATED, (t,)), ids):
                self.trials.append(trial)
                self.tick("order-dependent suspects alone")
            for i in doubtful:
                verdicts[i] = judge_scan(verdicts[i].test_id, self.trials)


_Step = Callable[[FlakyVerdict, list[Trial], "_Runner", Callable[[str], None]], FlakyVerdict]


def _side_by_side(
    pool: ThreadPoolExecutor,
    verdicts: list[FlakyVerdict],
    indices: list[int],
    scan: _Scan,
    step: _Step,
) -> None:
    """Replace each ``verdicts[i]`` by ``step`` on it, on the scan's workers (within budget)."""

    def one(i: int) -> FlakyVerdict:
        if scan.out_of_time():
            return verdicts[i]
        return step(verdicts[i], scan.trials, scan.runner, scan.tick)

    for i, verdict in zip(indices, list(pool.map(one, indices)), strict=True):
        verdicts[i] = verdict


class ScanApi:
    """Mixed into Greenline (which provides the working directory)."""

    workdir: Path
    root: Path
    repository: str
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
            scan.confirm_order(pool, verdicts)
            # who each order-dependent test depends on (one search per victim, side by side)
            order = [
                i for i, v in enumerate(verdicts) if v.category is FlakyCategory.ORDER_DEPENDENT
            ][:MAX_VICTIMS]
            _side_by_side(pool, verdicts, order, scan, self._find_culprits)
            # what else decides the others (their experiments side by side)
            others = [
                i
                for i, v in enumerate(verdicts)
                if v.verdict is Verdict.FLAKY and v.category is not FlakyCategory.ORDER_DEPENDENT
            ]
            _side_by_side(pool, verdicts, others, scan, self._experiment)
        rank = {Verdict.FLAKY: 0, Verdict.FAILING: 1, Verdict.STABLE: 2}
        verdicts.sort(key=lambda v: (rank[v.verdict], v.test_id))
        started_at = datetime.now(UTC) - timedelta(seconds=scan.elapsed())
        messages: dict[str, list[str]] = {}
        for trial in scan.trials:
            for test, outcome in trial.outcomes.items():
                if _failed(outcome):
                    messages.setdefault(test, [])
                    if test in trial.messages:
                        messages[test].append(trial.messages[test])
        report = ScanReport(
            verdicts,
            scan.runner.count,
            scan.elapsed(),
            scan.stopped,
            dict(first.outcomes),
            frozenset(messages),
            {t: tuple(m) for t, m in messages.items()},
        )
        if not pytest_args:  # a scan of the suite as it is configured: fix and explain reuse it
            with self.store.write() as conn:
                repo_id = writes.ensure_repository(conn, self.repository, str(self.root))
                writes.insert_flaky_scan(
                    conn,
                    repo_id,
                    vcs.read_commit(self.root),
                    started_at,
                    report.trials,
                    report.seconds,
                    report_to_json(report),
                )
        return report

    def stored_scan(self, test_id: str) -> tuple[datetime, ScanReport] | None:
        """The newest scan of the checked-out commit (clean tree) that judged ``test_id``."""
        commit = vcs.read_commit(self.root)
        if commit.sha is None or commit.dirty:
            return None
        found = self._scans_with(test_id, commit.sha)
        return (found[0], found[2]) if found else None

    def scanned_verdict(self, test_id: str) -> tuple[datetime, str | None, FlakyVerdict] | None:
        """The newest stored scan's verdict on ``test_id`` (any commit): when, at which
        commit, and what it found."""
        found = self._scans_with(test_id, None)
        if found is None:
            return None
        started_at, sha, report = found
        return started_at, sha, next(v for v in report.verdicts if v.test_id == test_id)

    def _scans_with(
        self, test_id: str, sha: str | None
    ) -> tuple[datetime, str | None, ScanReport] | None:
        with self.store.read() as conn:
            scans = reads.recent_flaky_scans(conn, self.repository, sha)
        for started_at, scan_sha, text in scans:
            report = report_from_json(text)
            if any(v.test_id == test_id for v in report.verdicts):
                return started_at, scan_sha, report
        return None

    def _experiment(
        self,
        verdict: FlakyVerdict,
        trials: list[Trial],
        runner: _Runner,
        tick: Callable[[str], None],
    ) -> FlakyVerdict:
        """Alone, what does the test touch, and does a fixed hash seed, a seeded ``random``, a
        frozen clock or a blocked network make it agree with itself?"""
        test_id = verdict.test_id

        def alone() -> list[bool]:
            return [
                _failed(t.outcomes.get(test_id))
                for t in trials
                if t.kind is TrialKind.ISOLATED and t.order == (test_id,) and not t.condition
            ]

        def run_alone(condition: Condition | None = None, setting: int = 0) -> bool:
            extra: list[str] = []
            env: dict[str, str] = {}
            if condition is Condition.HASH_SEED:
                env = {"PYTHONHASHSEED": str(setting)}
            elif condition is Condition.RANDOM_SEED:
                extra = [f"--greenline-seed={setting}"]
            elif condition is Condition.FROZEN_CLOCK:
                extra = [f"--greenline-clock={CLOCK_INSTANTS[setting]}"]
            elif condition is Condition.NO_NETWORK:
                extra = ["--greenline-offline"]
            trial = runner.run(TrialKind.ISOLATED, (test_id,), extra=extra, env=env)
            label = f"{condition.value} {setting}" if condition else ""
            trials.append(replace(trial, condition=label))
            tick(f"experiments on {test_id.rsplit('::', 1)[-1]}")
            return _failed(trial.outcomes.get(test_id))

        touched = runner.probe(test_id)
        tick(f"experiments on {test_id.rsplit('::', 1)[-1]}")
        category, seen = with_observations(verdict.category, touched)
        if seen:
            note = Evidence(EvidenceKind.OBSERVED, seen)
            verdict = replace(verdict, category=category, evidence=(*verdict.evidence, note))
        judged = len(alone())  # runs alone that the verdict already counted
        for _ in range(EXPERIMENT_BASELINE - judged):
            run_alone()
        free = alone()
        # how often it fails by itself: every uncontrolled run of it (the scan's and these)
        runs = verdict.runs + len(free) - judged
        failures = verdict.failures + sum(free[judged:])
        if not 0 < failures < runs:
            return verdict
        # what the probe saw it touch first; the clock and the network only if it touched them
        conditions = [
            condition
            for condition, key in (
                (Condition.FROZEN_CLOCK, "clock"),
                (Condition.RANDOM_SEED, "random"),
                (Condition.NO_NETWORK, "network"),
            )
            if touched.get(key)
        ]
        conditions += [
            c for c in (Condition.HASH_SEED, Condition.RANDOM_SEED) if c not in conditions
        ]
        for condition in conditions:
            experiment = Experiment(condition, failures, runs)
            while (setting := experiment.next_setting()) is not None:
                experiment.record(setting, run_alone(condition, setting))
            if experiment.attributed:
                note = Evidence(
                    EvidenceKind.EXPERIMENT,
                    f"by itself it failed {failures} of {runs} "
                    f"runs; with a {condition.value}: {experiment.describe()}",
                )
                return replace(
                    verdict, category=CAUSE[condition], evidence=(*verdict.evidence, note)
                )
        return verdict

    def _leaks(self, runner: _Runner, polluters: Sequence[str], victim: str) -> list[Leak]:
        """The project's module-level values the polluters leave changed when ``victim`` runs
        after them (one run with greenline's state probe)."""
        rows = runner.state(polluters, victim)
        last = next((r for r in reversed(rows) if r["test_id"] == polluters[-1]), None)
        if last is None:
            return []
        return [
            Leak(c["module"], c.get("file"), c["name"], c["initial"], bool(c.get("rebound")))
            for c in last["changed"]
        ]

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
            messages = [t.messages[test_id] for t in trials if test_id in t.messages]
            category, matched = guess_category(messages)
            notes = [note]
            if matched:
                notes.append(
                    Evidence(
                        EvidenceKind.FAILURE_MESSAGE,
                        f"{matched} of {len(messages)} failure messages point to {category.value}",
                    )
                )
            return replace(victim, category=category, evidence=(*victim.evidence, *notes))
        culprits = search.result
        evidence = [
            *victim.evidence,
            Evidence(
                EvidenceKind.POLLUTER,
                ("" if want_failure else "state-setter: ")
                + f"running {', '.join(culprits)} first makes it "
                + ("fail" if want_failure else "pass")
                + f" ({search.trials} runs of delta debugging)",
            ),
        ]
        cleaners: list[str] = []
        if want_failure:
            leaks = self._leaks(runner, culprits, test_id)
            tick(f"what {culprits[0].rsplit('::', 1)[-1]} leaves behind")
            if leaks:
                changed = ", ".join(f"{x.module}.{x.name} (was {x.initial})" for x in leaks[:3])
                evidence.append(Evidence(EvidenceKind.POLLUTER, f"it leaves changed: {changed}"))
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
