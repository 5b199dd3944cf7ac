"""Shard plans: which shard of a CI job (or of ``greenline run --shards``) runs which test, and
the time each shard is predicted to take."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
        """The shard a test runs on: its own, else its file's (a new test file is planned as
        one unit); one the plan never saw goes by a hash of its id (the same on every shard,
        so it still runs exactly once)."""
        found = self.assignment.get(test_id)
        if found is None:
            found = self.assignment.get(test_id.split("::", 1)[0])
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


def encode_plan(plan: ShardPlan) -> str:
    """The stored form of a plan: each shard's tests, the loads, and how they were estimated."""
    doc: dict[str, Any] = {
        "shards": plan.shards,
        "tests": [plan.tests_of(i) for i in range(plan.shards)],
        "loads": list(plan.loads),
        "durations": dict(sorted(plan.durations.items())),
        "estimated": sorted(plan.estimated),
        "median": plan.median,
        "baseline_run_id": plan.baseline_run_id,
    }
    return json.dumps(doc, separators=(",", ":"))


def decode_plan(text: str, key: str | None = None) -> ShardPlan:
    doc = json.loads(text)
    assignment = {t: i for i, tests in enumerate(doc["tests"]) for t in tests}
    return ShardPlan(
        shards=int(doc["shards"]),
        assignment=assignment,
        loads=tuple(float(x) for x in doc["loads"]),
        durations={str(k): float(v) for k, v in doc.get("durations", {}).items()},
        estimated=frozenset(doc.get("estimated", ())),
        median=float(doc.get("median", 0.0)),
        baseline_run_id=doc.get("baseline_run_id"),
        key=key,
    )
