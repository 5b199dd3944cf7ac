"""Passive detection: flaky tests found in the store's history, with no extra runs.

A test is flaky when it
- passed and failed on the same code: one commit, a clean tree, one environment;
- failed and then passed within one run (a rerun plugin's attempts, Surefire's flakyFailure);
- alternates between passing and failing across runs more often than changes explain (at least
  ``MIN_FLIPS`` flips on one branch's history: weaker evidence, lower confidence).
A test that failed in every run it took part in is ``failing``; every other one is ``stable``.
Pure: observations in, verdicts out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

from greenline.flaky.causes import failing_evidence, guess_category
from greenline.model import (
    Evidence,
    EvidenceKind,
    FlakyCategory,
    FlakyVerdict,
    Observation,
    Outcome,
    Verdict,
)

MIN_FLIPS = 4
CONFIDENCE = {
    EvidenceKind.SAME_CODE: 0.95,
    EvidenceKind.PASSED_ON_RETRY: 0.9,
    EvidenceKind.FLIPS: 0.6,
}
_COUNTED = {Outcome.PASSED, Outcome.FAILED, Outcome.ERROR}


def detect_flaky(observations: Iterable[Observation]) -> list[FlakyVerdict]:
    """A verdict for every test in ``observations``, flaky ones first (most wasted time first)."""
    by_test: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        if o.outcome in _COUNTED:
            by_test[o.test_id].append(o)
    verdicts = [judge(test_id, seen) for test_id, seen in by_test.items()]
    order = {Verdict.FLAKY: 0, Verdict.FAILING: 1, Verdict.STABLE: 2}
    return sorted(verdicts, key=lambda v: (order[v.verdict], -v.wasted_seconds, v.test_id))


def judge(test_id: str, seen: Sequence[Observation]) -> FlakyVerdict:
    """The verdict on one test from its observations (pass/fail/error attempts only)."""
    runs = _finals(seen)
    evidence = [*_same_code(runs), *_passed_on_retry(seen), *_flips(runs)]
    failed_runs = [r for r in runs if r.outcome.is_failure]
    firsts = _firsts(seen)
    failures = sum(1 for o in firsts if o.outcome.is_failure)
    wasted = sum(o.duration for o in seen if o.outcome.is_failure)
    category = FlakyCategory.UNKNOWN
    if evidence:
        messages = [o.message for o in seen if o.outcome.is_failure and o.message]
        category, matched = guess_category(messages)
        if matched:
            evidence.append(
                Evidence(
                    EvidenceKind.FAILURE_MESSAGE,
                    f"{matched} of {len(messages)} failure messages point to {category.value}",
                )
            )
        verdict = Verdict.FLAKY
        confidence = max(CONFIDENCE.get(e.kind, 0.0) for e in evidence)
    elif runs and len(failed_runs) == len(runs):
        verdict, confidence, wasted = Verdict.FAILING, 1 - 0.5 ** len(runs), 0.0
        messages = [o.message for o in reversed(failed_runs) if o.message]  # newest first
        detail = f"failed in all {len(runs)} recorded runs"
        run_ids = tuple(o.run_id for o in runs)
        evidence = list(failing_evidence(detail, run_ids, messages))
    else:
        verdict, confidence, wasted = Verdict.STABLE, 1 - 0.5 ** len(runs), 0.0
    return FlakyVerdict(
        test_id=test_id,
        verdict=verdict,
        category=category,
        confidence=round(confidence, 3),
        evidence=tuple(evidence),
        runs=len(runs),
        failures=failures,
        wasted_seconds=round(wasted, 3),
    )


def _finals(seen: Sequence[Observation]) -> list[Observation]:
    """The last attempt per run, oldest run first."""
    last: dict[int, Observation] = {}
    for o in seen:
        if o.run_id not in last or o.attempt > last[o.run_id].attempt:
            last[o.run_id] = o
    return sorted(last.values(), key=lambda o: (o.started_at, o.run_id))


def _firsts(seen: Sequence[Observation]) -> list[Observation]:
    first: dict[int, Observation] = {}
    for o in seen:
        if o.run_id not in first or o.attempt < first[o.run_id].attempt:
            first[o.run_id] = o
    return list(first.values())


def _same_code(runs: Sequence[Observation]) -> list[Evidence]:
    groups: dict[tuple[str, str | None], list[Observation]] = defaultdict(list)
    for o in runs:
        if o.sha and not o.dirty:
            groups[(o.sha, o.environment)].append(o)
    out = []
    for (sha, _), group in groups.items():
        passed = [o.run_id for o in group if o.outcome is Outcome.PASSED]
        failed = [o.run_id for o in group if o.outcome.is_failure]
        if passed and failed:
            out.append(
                Evidence(
                    EvidenceKind.SAME_CODE,
                    f"passed {len(passed)} and failed {len(failed)} times on commit {sha[:10]} "
                    "(clean tree, same environment)",
                    tuple(sorted(passed + failed)),
                )
            )
    return out


def _passed_on_retry(seen: Sequence[Observation]) -> list[Evidence]:
    attempts: dict[int, list[Observation]] = defaultdict(list)
    for o in seen:
        attempts[o.run_id].append(o)
    retried = []
    for run_id, tries in attempts.items():
        tries.sort(key=lambda o: o.attempt)
        failed_at = next((i for i, o in enumerate(tries) if o.outcome.is_failure), None)
        if failed_at is not None and any(
            o.outcome is Outcome.PASSED for o in tries[failed_at + 1 :]
        ):
            retried.append(run_id)
    if not retried:
        return []
    detail = f"failed, then passed on a retry, in {len(retried)} run(s)"
    return [Evidence(EvidenceKind.PASSED_ON_RETRY, detail, tuple(sorted(retried)))]


def _flips(runs: Sequence[Observation]) -> list[Evidence]:
    flips = sum(1 for a, b in pairwise(runs) if a.outcome.is_failure != b.outcome.is_failure)
    if flips < MIN_FLIPS:
        return []
    detail = f"flipped between passing and failing {flips} times in {len(runs)} runs"
    return [Evidence(EvidenceKind.FLIPS, detail, tuple(o.run_id for o in runs))]
