"""Root-cause experiments: run a flaky test alone under one controlled condition and see whether
its flakiness goes away.

If fixing the hash seed (``PYTHONHASHSEED``) makes every run agree, set or dict ordering decided
it (``unordered-collection``); if seeding ``random`` does, it is ``randomness``; if freezing the
wall clock does (tried only on tests seen reading it), it is ``time``; if blocking the network
does (tried only on tests seen using it), it is ``network``. Agreement can be
luck: a test failing at rate r agrees with itself over k runs with probability r^k + (1-r)^k,
so an experiment runs until that is below ``SIGNIFICANCE`` (at most ``MAX_RUNS``) and attributes
the cause only then. Pure: the api runs the trials.
"""

from __future__ import annotations

import enum

from greenline.model import FlakyCategory

SIGNIFICANCE = 0.01
MAX_RUNS = 16


class Condition(enum.StrEnum):
    HASH_SEED = "fixed hash seed"  # PYTHONHASHSEED=0
    RANDOM_SEED = "seeded random"  # random.seed(0) before the test, hash seed still varied
    FROZEN_CLOCK = "frozen clock"  # the wall clock stopped at CLOCK_INSTANT (time-machine)
    NO_NETWORK = "blocked network"  # sockets refused (connect, name lookups)


CAUSE = {
    Condition.HASH_SEED: FlakyCategory.UNORDERED_COLLECTION,
    Condition.RANDOM_SEED: FlakyCategory.RANDOMNESS,
    Condition.FROZEN_CLOCK: FlakyCategory.TIME,
    Condition.NO_NETWORK: FlakyCategory.NETWORK,
}
#: where the frozen-clock experiment stops the clock (and the first instant a clock fix tries)
CLOCK_INSTANTS = ("2000-01-01T00:00:00+00:00", "2000-06-15T12:30:00.250000+00:00")


def chance_agreement(rate: float, runs: int) -> float:
    """The probability that ``runs`` runs of a test failing at ``rate`` all agree by luck."""
    return rate**runs + (1 - rate) ** runs


def runs_needed(rate: float) -> int | None:
    """Runs for agreement to mean something; None when even MAX_RUNS would not (rare flakes)."""
    for runs in range(2, MAX_RUNS + 1):
        if chance_agreement(rate, runs) < SIGNIFICANCE:
            return runs
    return None


def attributes(failed: list[bool], rate: float) -> bool:
    """Whether the controlled runs (``failed`` per run) show the condition decides the test."""
    if not failed or len(set(failed)) > 1:
        return False
    return chance_agreement(rate, len(failed)) < SIGNIFICANCE
