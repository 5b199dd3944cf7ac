"""Triage (pure): one verdict per failing test of a red run, from what the store knows about
it: quarantine, known flakiness and its signatures, how it ended before the change, whether it
passed on the same commit, and which changed files it ran."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from greenline.model import Phase, TestResult
from greenline.model.recovery import TriageKind, TriageVerdict
from greenline.recovery.signatures import failure_signature

#: A signature shared by this many failing tests, and by half the run's tests, is the
#: environment's doing, not each test's.
MASS_FAILURE = 5

_INFRA = re.compile(
    r"Killed|killed by signal|[Ss]ignal \d+|SIGKILL|SIGTERM|MemoryError|[Oo]ut of memory|OOM|"
    r"No space left on device|Errno 28|Cannot allocate memory|Errno 12|"
    r"Temporary failure in name resolution|Name or service not known|Could not resolve host|"
    r"Connection (refused|reset|aborted)|Network is unreachable|Read timed out|"
    r"registry|node down|worker '?\w+'? crashed|runner (was )?lost|The runner has received a "
    r"shutdown signal|Segmentation fault|core dumped"
)
_SETUP = re.compile(
    r"ImportError|ModuleNotFoundError|fixture '[^']*' not found|conftest|ERROR collecting|"
    r"UsageError|INTERNALERROR|Interrupted: \d+ errors? during collection|PytestConfigWarning|"
    r"SyntaxError"
)
#: what to look at first: what the change broke, then what stops everything, then the rest
ORDER = [
    TriageKind.REGRESSION,
    TriageKind.SETUP,
    TriageKind.INFRA,
    TriageKind.ALREADY_FAILING,
    TriageKind.UNKNOWN,
    TriageKind.SUSPECT_FLAKY,
    TriageKind.FLAKY,
    TriageKind.QUARANTINED,
]


@dataclass(frozen=True)
class TriageInput:
    """What triage knows about a red run. Test ids not in a mapping are simply not known there."""

    failures: Sequence[TestResult]
    tests_in_run: int
    quarantined: Mapping[str, str] = field(default_factory=dict)  # test -> reason
    #: known flaky tests -> the signatures of their earlier failures
    flaky: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: tests that failed before the change (baseline, or main before it) -> that signature
    before: Mapping[str, str] = field(default_factory=dict)
    #: where "before" comes from, for the evidence (e.g. "run 12 at abc1234")
    before_label: str = "the baseline"
    passed_same_commit: frozenset[str] = frozenset()
    #: the last green run's passing tests, and its label
    passed_last_green: frozenset[str] = frozenset()
    last_green_label: str | None = None
    #: the changed files since the last green run that each test ran (coverage, files read,
    #: imports)
    touched: Mapping[str, Sequence[str]] = field(default_factory=dict)
    run_label: str = "this run"


def triage_failures(data: TriageInput) -> list[TriageVerdict]:
    """A verdict per failing test, grouped by kind (``ORDER``), then signature, then test id."""
    signatures = {f.test_id: failure_signature(f.message) for f in data.failures}
    counts = Counter(s for s in signatures.values() if s)
    verdicts = [_judge(f, signatures[f.test_id], counts, data) for f in data.failures]
    return sorted(verdicts, key=lambda v: (ORDER.index(v.kind), v.signature, v.test_id))


def _judge(
    failure: TestResult, signature: str, counts: Counter[str], data: TriageInput
) -> TriageVerdict:
    test_id, message = failure.test_id, failure.message or ""
    shown = signature or "(no message)"
    if test_id in data.quarantined:
        return _verdict(
            failure, TriageKind.QUARANTINED, signature, f"quarantined: {data.quarantined[test_id]}"
        )
    if _INFRA.search(message):
        return _verdict(
            failure, TriageKind.INFRA, signature, f"the runner's environment failed: {shown}"
        )
    if failure.phase is Phase.COLLECT or _SETUP.search(message):
        return _verdict(
            failure, TriageKind.SETUP, signature, f"it failed before its test ran: {shown}"
        )
    shared = counts.get(signature, 0) if signature else 0
    if shared >= MASS_FAILURE and shared * 2 >= max(1, data.tests_in_run):
        reason = f"{shared} of {data.tests_in_run} tests failed with one signature: {shown}"
        return _verdict(failure, TriageKind.INFRA, signature, reason)
    return _judge_history(failure, signature, data)


def _judge_history(failure: TestResult, signature: str, data: TriageInput) -> TriageVerdict:
    test_id = failure.test_id
    known = data.flaky.get(test_id)
    if known and signature in known:
        reason = "a known flaky test, failing the way it flakes"
        return _verdict(failure, TriageKind.FLAKY, signature, reason)
    if test_id in data.before and data.before[test_id] == signature:
        reason = f"it failed the same way on {data.before_label}, before the change"
        return _verdict(failure, TriageKind.ALREADY_FAILING, signature, reason)
    if test_id in data.passed_same_commit:
        reason = f"it failed and passed on the same commit ({data.run_label}): not yet known flaky"
        return _verdict(failure, TriageKind.SUSPECT_FLAKY, signature, reason)
    touched = tuple(sorted(data.touched.get(test_id, ())))
    if test_id in data.passed_last_green and touched:
        listed = ", ".join(touched[:5]) + (f" (+{len(touched) - 5})" if len(touched) > 5 else "")
        reason = f"it passed on {data.last_green_label}; since then the change touches {listed}"
        return _verdict(failure, TriageKind.REGRESSION, signature, reason, touched)
    return _verdict(failure, TriageKind.UNKNOWN, signature, _unknown_reason(test_id, data))


def _unknown_reason(test_id: str, data: TriageInput) -> str:
    if data.last_green_label is None:
        return "no green run to compare with"
    if test_id not in data.passed_last_green:
        return f"it did not pass on {data.last_green_label} (new, or not run there)"
    return f"it passed on {data.last_green_label}, and the change touches nothing it ran"


def _verdict(
    failure: TestResult,
    kind: TriageKind,
    signature: str,
    reason: str,
    touched: tuple[str, ...] = (),
) -> TriageVerdict:
    phase = failure.phase.value if failure.phase else "call"
    evidence = (f"{failure.outcome.value} in {phase} (attempt {failure.attempt})",)
    return TriageVerdict(failure.test_id, kind, signature, reason, evidence, touched)
