"""A flaky scan's trials and its report: each trial is a fresh pytest process, run through the
executor, that writes every test's outcome (or what a probe saw) into its output directory."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenline.executor import OUT, Executor, JobResult, pytest_job
from greenline.flaky.active import Trial, TrialKind
from greenline.model import Evidence, EvidenceKind, FlakyCategory, FlakyVerdict, Outcome, Verdict


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
    #: per order-dependent test, what its polluters leave changed (the state probe's rows)
    leaks: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    #: per test, what fixing it tried since the scan (greenline's patches, anyone's verified)
    fixes: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)


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
            "leaks": {t: list(rows) for t, rows in report.leaks.items()},
            "fixes": {t: list(rows) for t, rows in report.fixes.items()},
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
        {t: tuple(rows) for t, rows in doc.get("leaks", {}).items()},
        {t: tuple(rows) for t, rows in doc.get("fixes", {}).items()},
    )


def is_failed(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.is_failure


class TrialRunner:
    """Runs one trial at a time (from several threads at once): a fresh pytest process."""

    def __init__(
        self,
        executor: Executor,
        workdir: Path,
        pytest_args: Sequence[str],
        timeout: float | None,
    ) -> None:
        self.executor = executor
        self.workdir = workdir
        self.pytest_args = list(pytest_args)
        self.timeout = timeout
        self.count = 0  # trials so far (probe and state runs are not trials)
        self.lock = threading.Lock()
        #: what each state run saw, by (tests before, test): the scan's report keeps them
        self.states: dict[tuple[tuple[str, ...], str], list[dict[str, Any]]] = {}

    def run(
        self,
        kind: TrialKind,
        tests: Sequence[str] = (),
        seed: int | None = None,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> Trial:
        number = self._next()
        argv = ["-p", "no:randomly", f"--greenline-outcomes={OUT}/outcomes.jsonl"]
        if seed is not None:
            argv.append(f"--greenline-order={seed}")
        argv += [*extra, *tests] if tests else [*extra, *self.pytest_args]
        # a distinct, known hash seed per run: set and dict order vary between runs (as they
        # would in CI) yet a scan is repeatable
        env = {"PYTHONHASHSEED": str(number), **(env or {})}
        result = self._pytest(argv, env)
        order, outcomes, messages = [], {}, {}
        for row in read_jsonl(result, "outcomes.jsonl"):
            order.append(row["test_id"])
            outcomes[row["test_id"]] = Outcome(row["outcome"])
            if row.get("message"):
                messages[row["test_id"]] = row["message"]
        return Trial(kind, tuple(order), outcomes, messages, seed, result.seconds)

    def _next(self) -> int:
        """The trial's number: no other trial of this scan has it."""
        with self.lock:
            self.count += 1
            return self.count

    def _pytest(self, argv: list[str], env: dict[str, str] | None = None) -> JobResult:
        job = pytest_job(*argv, cwd=self.workdir, env=env, timeout=self.timeout)
        return self.executor.run(job)

    def probe(self, test_id: str) -> dict[str, list[str]]:
        """What ``test_id`` touches when it runs alone (not counted as a trial)."""
        result = self._pytest(
            ["-p", "no:randomly", f"--greenline-probe={OUT}/probe.jsonl", test_id]
        )
        rows = read_jsonl(result, "probe.jsonl")
        row = next((r for r in rows if r.get("test_id") == test_id), {})
        return {k: v for k, v in row.items() if k != "test_id"}

    def state(self, before: Sequence[str], test_id: str) -> list[dict[str, Any]]:
        """The module-level state each of ``before`` then ``test_id`` left changed."""
        argv = ["-p", "no:randomly", f"--greenline-state={OUT}/state.jsonl", *before, test_id]
        rows = read_jsonl(self._pytest(argv), "state.jsonl")
        with self.lock:
            self.states[(tuple(before), test_id)] = rows
        return rows


def read_jsonl(result: JobResult, name: str) -> list[dict[str, Any]]:
    """The JSON lines a job wrote to its output file ``name`` (none if it wrote nothing)."""
    return [json.loads(line) for line in result.text(name).splitlines() if line]
