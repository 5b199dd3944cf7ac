"""Shard plans: which shard of a CI job (or of ``greenline run --shards``) runs which test, and
the time each shard is predicted to take."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """Every test id (or new test file) assigned to one of ``shards`` shards, 0-based."""

    shards: int
    #: test id -> its shard
    assignment: Mapping[str, int]
    #: predicted seconds per shard (the sum of its tests' expected durations)
    loads: tuple[float, ...]
    #: expected duration per test: recorded, or the median for tests without history
    durations: Mapping[str, float] = field(default_factory=dict)
    #: the tests that had no recorded duration (they were given ``median``)
    estimated: frozenset[str] = frozenset()
    median: float = 0.0
    #: the run whose durations the plan came from (None: no history)
    baseline_run_id: int | None = None
    #: the key the plan is stored under (a CI run's id), if it was stored
    key: str | None = None

    def tests_of(self, index: int) -> list[str]:
        """The tests shard ``index`` runs, longest first (ties by id)."""
        mine = [t for t, s in self.assignment.items() if s == index]
        return sorted(mine, key=lambda t: (-self.durations.get(t, 0.0), t))

    def shard_of(self, test_id: str) -> int:
        """The shard a test runs on; one the plan never saw goes by a hash of its id (the
        same on every shard, so it still runs exactly once)."""
        found = self.assignment.get(test_id)
        return found if found is not None else hash_shard(test_id, self.shards)

    @property
    def makespan(self) -> float:
        """The predicted time of the slowest shard."""
        return max(self.loads, default=0.0)

    @property
    def total(self) -> float:
        return sum(self.loads)


def hash_shard(test_id: str, shards: int) -> int:
    """A shard for an id no plan knows, the same in every process (``hash()`` is salted)."""
    digest = hashlib.blake2b(test_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards
