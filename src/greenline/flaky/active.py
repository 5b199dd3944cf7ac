"""Active detection: verdicts from controlled reruns (same order, shuffled orders, isolation).

The api runs the trials (a fresh pytest process each) and hands their outcomes here. A test that
both passed and failed across the trials is flaky - that is proof, not a guess. Which trials it
failed in says what kind: if it always behaves the same in the same order and alone, but changes
with the order, other tests' leftovers decide it (order-dependent); if it flips even when nothing
else changes, the cause is inside it (randomness, time, ...: the failure messages narrow it
down). Pure: trials in, verdicts out.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from greenline.flaky.causes import failing_evidence, guess_category
from greenline.model import Evidence, EvidenceKind, FlakyCategory, FlakyVerdict, Outcome, Verdict


class TrialKind(enum.StrEnum):
    SAME_ORDER = "same-order"  # the suite as collected, again
    SHUFFLED = "shuffled"  # the suite in a seeded random order
    ISOLATED = "isolated"  # one test alone in a fresh process


@dataclass(frozen=True, slots=True)
class Trial:
    """One pytest process of a scan: what ran, in which order, and how each test ended."""

    kind: TrialKind
    order: tuple[str, ...]
    outcomes: dict[str, Outcome]
    messages: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    seconds: float = 0.0
    #: an experiment's controlled condition (flaky.experiments.Condition), "" for none
    condition: str = ""


_FAILED = (Outcome.FAILED, Outcome.ERROR)


def judge_scan(test_id: str, trials: Sequence[Trial]) -> FlakyVerdict:
    """The verdict on one test from the trials it took part in."""
    mine = [(t, t.outcomes[test_id]) for t in trials if t.outcomes.get(test_id) in _COUNTED]
    failed = [t for t, o in mine if o in _FAILED]
    runs, failures = len(mine), len(failed)
    if failures == 0:
        return FlakyVerdict(
            test_id, Verdict.STABLE, FlakyCategory.UNKNOWN, _sure(runs), (), runs, 0, 0.0
        )
    if failures == runs:
        messages = [t.messages[test_id] for t in reversed(failed) if t.messages.get(test_id)]
        proof = failing_evidence(f"failed all {runs} controlled runs", (), messages)
        return FlakyVerdict(
            test_id, Verdict.FAILING, FlakyCategory.UNKNOWN, _sure(runs), proof, runs, runs, 0.0
        )
    evidence = [
        Evidence(
            EvidenceKind.RERUNS,
            f"failed {failures} of {runs} controlled runs",
            (),
        )
    ]
    category = FlakyCategory.UNKNOWN
    by_kind = {kind: [o for t, o in mine if t.kind is kind] for kind in TrialKind}
    # the same order, and alone, it always does the same: what differs is who ran before it
    steady = all(_consistent(by_kind[k]) for k in (TrialKind.SAME_ORDER, TrialKind.ISOLATED))
    if steady:
        category = FlakyCategory.ORDER_DEPENDENT
        alone = by_kind[TrialKind.ISOLATED]
        state = (
            "fails alone: it needs state another test sets"
            if alone and alone[0] in _FAILED
            else ("passes alone and in the collected order, fails after some other tests")
        )
        evidence.append(Evidence(EvidenceKind.ORDER, state))
    else:
        messages = [t.messages[test_id] for t in failed if test_id in t.messages]
        category, matched = guess_category(messages)
        if matched:
            evidence.append(
                Evidence(
                    EvidenceKind.FAILURE_MESSAGE,
                    f"{matched} of {len(messages)} failure messages point to {category.value}",
                )
            )
        if by_kind[TrialKind.SAME_ORDER] and not _consistent(by_kind[TrialKind.SAME_ORDER]):
            evidence.append(Evidence(EvidenceKind.ORDER, "flips even in the same order"))
        if by_kind[TrialKind.ISOLATED] and not _consistent(by_kind[TrialKind.ISOLATED]):
            evidence.append(Evidence(EvidenceKind.ORDER, "flips even when it runs alone"))
    wasted = sum(t.seconds / max(len(t.order), 1) for t in failed)
    return FlakyVerdict(
        test_id, Verdict.FLAKY, category, 0.99, tuple(evidence), runs, failures, round(wasted, 3)
    )


_COUNTED = (Outcome.PASSED, *_FAILED)


def steady_by_luck(test_id: str, trials: Sequence[Trial]) -> float:
    """How likely a test that flips at its observed rate whatever the order would look as
    steady as this one does in the collected order and alone: an order-dependence verdict is
    only as good as this is small (a coin-flip test is steady over four runs one time in eight)."""
    mine = [t for t in trials if t.outcomes.get(test_id) in _COUNTED and not t.condition]
    if not mine:
        return 1.0
    rate = sum(t.outcomes[test_id] in _FAILED for t in mine) / len(mine)
    chance = 1.0
    for kind in (TrialKind.SAME_ORDER, TrialKind.ISOLATED):
        n = sum(t.kind is kind for t in mine)
        if n:
            chance *= rate**n + (1 - rate) ** n
    return chance


def _consistent(outcomes: Sequence[Outcome]) -> bool:
    return len({o in _FAILED for o in outcomes}) <= 1


def _sure(runs: int) -> float:
    """How sure an all-agreeing verdict is after ``runs`` trials (a coin-flip flake would have
    shown both outcomes with probability 1 - 2**(1 - runs))."""
    return round(1 - 0.5 ** max(runs - 1, 0), 3) if runs else 0.0
