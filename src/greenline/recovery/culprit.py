"""The culprit search (pure): which of the first-parent commits in (good, bad] broke the failing
tests, or none (the failures are flaky), from probes that run those tests at chosen commits.

Hypotheses: "commit i is the culprit" for each candidate, and "no culprit". Under "i", runs
before i fail at an unknown flake rate f and runs from i on pass at an unknown rate e (a broken
test that still passes sometimes); under "no culprit" every run fails at rate f. Both rates are
integrated out over Beta priors, so a flaky test needs repeated evidence and a deterministic one
needs little. Coverage gives the prior: a commit that touched nothing the failing tests ran is
unlikely, not excluded. Each round names the commits whose outcomes are expected to tell the
most (greedy on the joint information gain of the round's probes); a culprit is named only when
its posterior reaches the confidence with its parent seen passing and itself seen failing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from greenline.model.recovery import (
    CandidateCommit,
    CulpritAnswer,
    CulpritStatus,
    Probe,
    ProbeResult,
)

#: Beta priors: the flake rate before the culprit (most tests are not flaky) and the pass rate
#: of a broken test after it (most breakages are deterministic).
FLAKE_PRIOR = (1.0, 4.0)
PASS_PRIOR = (0.5, 12.0)
UNTOUCHED_WEIGHT = 0.1  # prior weight of a commit that touched nothing the tests ran
NO_CULPRIT_PRIOR = 0.25
JOINT_PROBES = 4  # the most probes of one round chosen jointly (2**4 outcome combinations)


@dataclass
class _Counts:
    fails: int = 0
    passes: int = 0


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _marginal(prior: tuple[float, float], hits: int, misses: int) -> float:
    """log P(hits, misses) for Bernoulli draws whose rate has a Beta prior (in that order)."""
    a, b = prior
    return _log_beta(a + hits, b + misses) - _log_beta(a, b)


class CulpritSearch:
    """Feed probes with ``record``; ask ``next_probes`` what to run and ``answer`` what is known."""

    def __init__(
        self,
        candidates: Sequence[CandidateCommit],
        *,
        confidence: float = 0.99,
        known_flake_rate: float | None = None,
        max_probes: int | None = None,
    ) -> None:
        if not candidates:
            raise ValueError("a culprit search needs at least one commit")
        self.candidates = list(candidates)
        self.confidence = confidence
        self.counts = [_Counts() for _ in candidates]
        self.good = _Counts(passes=1)  # the good revision passed (that is what makes it good)
        self.counts[-1].fails += 1  # the bad revision failed
        self.untestable: set[int] = set()
        self.probes = 0
        n = len(candidates)
        self.max_probes = max_probes or int(12 * math.log2(n + 1) + 24)
        self.flake_prior = FLAKE_PRIOR
        self.no_culprit_prior = NO_CULPRIT_PRIOR
        if known_flake_rate is not None:  # a test known to be flaky: trust its history
            weight = 20.0
            rate = min(max(known_flake_rate, 0.01), 0.99)
            self.flake_prior = (0.5 + rate * weight, 0.5 + (1 - rate) * weight)
            self.no_culprit_prior = 0.5

    # -- evidence ------------------------------------------------------------------------------
    def record(self, probe: Probe) -> None:
        self.probes += 1
        if probe.result is ProbeResult.UNTESTABLE:
            self.untestable.add(probe.index)
            return
        counts = self.good if probe.index < 0 else self.counts[probe.index]
        if probe.result is ProbeResult.FAILED:
            counts.fails += 1
        else:
            counts.passes += 1

    def posterior(self) -> list[float]:
        """P(no culprit), then P(candidate i is the culprit) for each candidate."""
        logs = self._log_joint(self.counts, self.good)
        top = max(logs)
        weights = [math.exp(x - top) for x in logs]
        total = sum(weights)
        return [w / total for w in weights]

    def _log_joint(self, counts: Sequence[_Counts], good: _Counts) -> list[float]:
        n = len(counts)
        # prefix sums: fails/passes at the good revision and candidates before i
        before_f, before_p = [good.fails], [good.passes]
        for c in counts:
            before_f.append(before_f[-1] + c.fails)
            before_p.append(before_p[-1] + c.passes)
        all_f, all_p = before_f[-1], before_p[-1]
        priors = [1.0 if c.touches_tests else UNTOUCHED_WEIGHT for c in self.candidates]
        scale = (1 - self.no_culprit_prior) / sum(priors)
        logs = [math.log(self.no_culprit_prior) + _marginal(self.flake_prior, all_f, all_p)]
        for i in range(n):
            f1, p1 = before_f[i], before_p[i]
            f2, p2 = all_f - f1, all_p - p1
            likelihood = _marginal(self.flake_prior, f1, p1) + _marginal(PASS_PRIOR, p2, f2)
            logs.append(math.log(priors[i] * scale) + likelihood)
        return logs

    # -- decisions ------------------------------------------------------------------------------
    def answer(self) -> CulpritAnswer | None:
        """The answer once the evidence is enough (or the budget is spent), else None."""
        post = self.posterior()
        none, best = post[0], max(range(len(self.candidates)), key=lambda i: post[i + 1])
        if none >= self.confidence:
            return self._answer(CulpritStatus.NO_CULPRIT, "the failures are flaky", (), post)
        group = self._group(best)
        mass = sum(post[i + 1] for i in group)
        if mass >= self.confidence and self._seen_boundary(group):
            if len(group) > 1:
                reason = "untestable commits hide which of these broke it"
                return self._answer(CulpritStatus.AMBIGUOUS, reason, tuple(group), post)
            return self._answer(CulpritStatus.FOUND, "confirmed", (best,), post, confirmed=True)
        if self.probes >= self.max_probes:
            reason = (
                f"no answer at {self.confidence:.0%} confidence within {self.max_probes} probes"
            )
            return self._answer(CulpritStatus.UNDECIDED, reason, (best,), post)
        return None

    def _group(self, best: int) -> list[int]:
        """``best`` with the untestable commits next to it: probes cannot tell them apart (an
        untestable ``best`` stands for the first testable commit after it)."""
        end = best
        while end in self.untestable and end + 1 < len(self.candidates):
            end += 1
        group = [end]
        while group[0] - 1 >= 0 and group[0] - 1 in self.untestable:
            group.insert(0, group[0] - 1)
        return group

    def _seen_boundary(self, group: list[int]) -> bool:
        """The confirmation: the commit before the group passed and the culprit failed."""
        parent = group[0] - 1
        before = self.good if parent < 0 else self.counts[parent]
        return before.passes > 0 and self.counts[group[-1]].fails > 0

    def _answer(
        self,
        status: CulpritStatus,
        reason: str,
        commits: tuple[int, ...],
        post: list[float],
        confirmed: bool = False,
    ) -> CulpritAnswer:
        mass = sum(post[i + 1] for i in commits)
        return CulpritAnswer(status, reason, commits, mass, post[0], self.probes, confirmed)

    def next_probes(self, k: int) -> list[int]:
        """Up to ``k`` commits to probe next (a commit may appear twice: rerun it)."""
        if self.answer() is not None:
            return []
        testable = [i for i in range(len(self.candidates)) if i not in self.untestable]
        testable.append(-1)  # the good revision again: is the failure there too (flaky)?
        chosen: list[int] = []
        for _ in range(max(1, k)):
            if len(chosen) >= JOINT_PROBES:
                chosen.append(chosen[len(chosen) % JOINT_PROBES])
                continue
            best = max(testable, key=lambda j: (self._gain([*chosen, j]), -abs(j)))
            chosen.append(best)
        return chosen

    def _gain(self, probes: list[int]) -> float:
        """The expected drop in the posterior's entropy from the outcomes of ``probes``."""
        post = self.posterior()
        before = _entropy(post)
        base = self._log_joint(self.counts, self.good)
        expected = 0.0
        for outcome in range(2 ** len(probes)):
            counts = [_Counts(c.fails, c.passes) for c in self.counts]
            good = _Counts(self.good.fails, self.good.passes)
            for bit, index in enumerate(probes):
                target = good if index < 0 else counts[index]
                if outcome >> bit & 1:
                    target.fails += 1
                else:
                    target.passes += 1
            logs = self._log_joint(counts, good)
            # P(outcome) = sum over hypotheses of the posterior times its predictive: the ratio
            # of the joint with the new evidence to the joint without it
            base = self._log_joint(self.counts, self.good)
            weights = [
                p * math.exp(new - old) for p, new, old in zip(post, logs, base, strict=True)
            ]
            chance = sum(weights)
            if chance > 0:
                expected += chance * _entropy([w / chance for w in weights])
        return before - expected


def _entropy(p: Sequence[float]) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)
