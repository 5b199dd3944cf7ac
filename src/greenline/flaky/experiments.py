"""Root-cause experiments: run a flaky test alone under one controlled condition and see whether
the condition decides its outcome.

If fixing the hash seed (``PYTHONHASHSEED``) decides it, set or dict ordering does
(``unordered-collection``); if seeding ``random`` does, it is ``randomness``; if freezing the
wall clock does (tried only on tests seen reading it), it is ``time``; if blocking the network
does (tried only on tests seen using it), it is ``network``.

A condition has settings (hash seed 0, 1, 2, …; clock instants; the network has one). If the
condition decides the test, every run at one setting ends the same way, though different
settings may differ. So the first run at a setting predicts the next ones there, and a test
failing at rate r by itself matches a prediction of failure by luck with probability r (of a
pass, 1 - r). The rate is only estimated from the runs seen so far, so an experiment takes the
upper end of its confidence interval (Wilson, two sigma) for the outcome it predicts: a rate
guessed too low from a few runs must not make luck look unlikely. An :class:`Experiment`
multiplies those chances over its repeated runs and attributes the cause once the product falls
below ``SIGNIFICANCE``; one run that breaks a prediction refutes it. It repeats a setting whose
first outcome was the rarer one (a test that fails five runs in six matches "pass" by luck one
time in six, "fail" five times in six) and tries fresh settings otherwise, so even a test that
nearly always fails is pinned in a few runs once a setting makes it pass. Pure: the api runs the
trials.
"""

from __future__ import annotations

import enum
import math

from greenline.model import FlakyCategory

SIGNIFICANCE = 0.01
MAX_RUNS = 24
#: how wide the confidence interval of the estimated rate is, in standard deviations
CONFIDENCE_Z = 2.0


class Condition(enum.StrEnum):
    HASH_SEED = "fixed hash seed"  # PYTHONHASHSEED=<setting>
    RANDOM_SEED = "seeded random"  # random.seed(<setting>) before the test, hash seed varied
    FROZEN_CLOCK = "frozen clock"  # the wall clock stopped at CLOCK_INSTANTS[<setting>]
    NO_NETWORK = "blocked network"  # sockets refused (connect, name lookups)


CAUSE = {
    Condition.HASH_SEED: FlakyCategory.UNORDERED_COLLECTION,
    Condition.RANDOM_SEED: FlakyCategory.RANDOMNESS,
    Condition.FROZEN_CLOCK: FlakyCategory.TIME,
    Condition.NO_NETWORK: FlakyCategory.NETWORK,
}
#: where the frozen-clock experiment stops the clock: midnight and midday, a leap day, ends of
#: months and years, weekdays and weekends, with and without microseconds (the clock fixer
#: tries the first ``FIX_INSTANTS``)
CLOCK_INSTANTS = (
    "2000-01-01T00:00:00+00:00",
    "2000-06-15T12:30:00.250000+00:00",
    "2024-02-29T23:59:59.999999+00:00",
    "2023-10-10T09:15:30+00:00",
    "2021-12-31T18:00:00.500000+00:00",
    "2022-03-07T03:45:12.000001+00:00",
    "2025-07-04T00:00:00.750000+00:00",
    "2019-11-30T15:20:45+00:00",
)
FIX_INSTANTS = 2


def upper_bound(successes: int, trials: int, z: float = CONFIDENCE_Z) -> float:
    """The upper end of the Wilson score interval for a proportion seen ``successes`` times in
    ``trials``."""
    p, n = successes / trials, trials
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / (1 + z * z / n))


def settings(condition: Condition) -> int | None:
    """How many settings a condition has (None: as many as wanted)."""
    if condition is Condition.FROZEN_CLOCK:
        return len(CLOCK_INSTANTS)
    if condition is Condition.NO_NETWORK:
        return 1
    return None


class Experiment:
    """A sequential test of "the condition decides the test" (see the module's doc)."""

    def __init__(
        self, condition: Condition, failures: int, runs: int, max_runs: int = MAX_RUNS
    ) -> None:
        if not 0 < failures < runs:
            raise ValueError("an experiment needs a test that both passes and fails by itself")
        self.condition = condition
        self.rate = failures / runs  # the point estimate, for the evidence
        # the most either outcome can plausibly happen by itself (see the module's doc)
        self._fail_luck = upper_bound(failures, runs)
        self._pass_luck = upper_bound(runs - failures, runs)
        self.max_runs = max_runs
        self.chance = 1.0  # the probability of every prediction so far matching by luck
        self.refuted = False
        self.runs: list[tuple[int, bool]] = []  # (setting, failed) in the order they ran
        self._first: dict[int, bool] = {}
        self._limit = settings(condition)

    @property
    def attributed(self) -> bool:
        return not self.refuted and self.chance < SIGNIFICANCE

    def _luck(self, failed: bool) -> float:
        return self._fail_luck if failed else self._pass_luck

    def next_setting(self) -> int | None:
        """The setting to run next, or None when the experiment has decided or is spent."""
        if self.refuted or self.attributed or len(self.runs) >= self.max_runs:
            return None
        fresh = len(self._first)
        if self._limit is not None and fresh >= self._limit:
            # every setting tried: repeat the one whose outcome is least likely by luck
            return min(self._first, key=lambda s: self._luck(self._first[s]))
        if self.runs:
            last = self.runs[-1][0]
            first = self._first[last]
            if self._luck(first) <= self._luck(not first):
                return last  # its outcome was the rarer one: repeating it is informative
        return fresh

    def record(self, setting: int, failed: bool) -> None:
        if setting in self._first:
            if failed != self._first[setting]:
                self.refuted = True
            else:
                self.chance *= self._luck(failed)
        else:
            self._first[setting] = failed
        self.runs.append((setting, failed))

    def describe(self) -> str:
        """What the runs showed, for the verdict's evidence."""
        by_setting: dict[int, list[bool]] = {}
        for setting, failed in self.runs:
            by_setting.setdefault(setting, []).append(failed)
        repeated = {s: o for s, o in by_setting.items() if len(o) > 1}
        parts = [
            f"{self.label(s)} {'failed' if o[0] else 'passed'} all {len(o)}"
            for s, o in repeated.items()
        ]
        return f"{'; '.join(parts)} (chance agreement {self.chance:.3f})"

    def label(self, setting: int) -> str:
        if self.condition is Condition.HASH_SEED:
            return f"hash seed {setting}"
        if self.condition is Condition.RANDOM_SEED:
            return f"random seed {setting}"
        if self.condition is Condition.FROZEN_CLOCK:
            return f"clock at {CLOCK_INSTANTS[setting]}"
        return "blocked network"
