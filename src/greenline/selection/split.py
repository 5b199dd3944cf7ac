"""Splitting a suite into shards of about equal time, from recorded durations.

Longest processing time first: tests, longest first (ties by id), each onto the least-loaded
shard (ties: the one with fewer tests, then the lower index); then pairs of shards trade tests
while that lowers the busier one. Tests without history get the median recorded duration, so
the tests of a new file spread over the shards like any others of their size. Pure and
deterministic: the same durations give the same plan in every process and in any input order,
which is what lets every shard of a CI job compute the plan by itself and agree with the others.
"""

from __future__ import annotations

import bisect
import heapq
import math
import statistics
from collections.abc import Mapping

from greenline.errors import UsageError
from greenline.model.shards import ShardPlan

#: Without any history every test weighs the same.
UNKNOWN_SECONDS = 1.0
#: How many trades between shards a plan may make per shard (each one strictly lowers the
#: sum of squared loads, so the search ends anyway; this bounds it on huge suites).
TRADES_PER_SHARD = 64


def split_tests(
    durations: Mapping[str, float | None],
    shards: int,
    *,
    baseline_run_id: int | None = None,
) -> ShardPlan:
    """Assign every test id in ``durations`` (None: no history) to one of ``shards``."""
    if shards < 1:
        raise UsageError(f"{shards} shards: need at least 1", hint="--shards 2")
    weights, median, estimated = expected_durations(durations)
    order = sorted(weights, key=lambda t: (-weights[t], t))
    members: list[list[str]] = [[] for _ in range(shards)]
    loads = [0.0] * shards
    # (load, tests, index): tests recorded at 0.0 s still spread instead of piling up
    heap = [(0.0, 0, i) for i in range(shards)]
    for test_id in order:
        load, count, index = heapq.heappop(heap)
        members[index].append(test_id)
        loads[index] = load + weights[test_id]
        heapq.heappush(heap, (loads[index], count + 1, index))
    _trade(members, loads, weights, TRADES_PER_SHARD * shards)
    assignment = {t: i for i, tests in enumerate(members) for t in tests}
    totals = tuple(math.fsum(weights[t] for t in tests) for tests in members)
    return ShardPlan(
        shards=shards,
        assignment=assignment,
        loads=totals,
        durations=weights,
        estimated=frozenset(estimated),
        median=median,
        baseline_run_id=baseline_run_id,
    )


def expected_durations(
    durations: Mapping[str, float | None],
) -> tuple[dict[str, float], float, list[str]]:
    """(each test's expected seconds, the median used for unknown ones, the unknown ones)."""
    known = [d for d in durations.values() if d is not None and math.isfinite(d) and d >= 0]
    median = statistics.median(known) if known else UNKNOWN_SECONDS
    weights: dict[str, float] = {}
    estimated: list[str] = []
    for test_id, seconds in durations.items():
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            weights[test_id] = median
            estimated.append(test_id)
        else:
            weights[test_id] = float(seconds)
    return weights, median, sorted(estimated)


def _trade(
    members: list[list[str]], loads: list[float], weights: Mapping[str, float], rounds: int
) -> None:
    """Move or swap tests between the busiest shard and a lighter one while that lowers the
    busier one's load (and never raises the lighter one above it)."""
    count = len(loads)
    for _ in range(rounds):
        busiest = max(range(count), key=lambda i: (loads[i], -i))
        for lighter in sorted(range(count), key=lambda i: (loads[i], i)):
            gap = loads[busiest] - loads[lighter]
            if lighter == busiest or gap <= 1e-9:
                return
            trade = _best_trade(members[busiest], members[lighter], weights, gap)
            if trade is not None:
                _apply_trade(members, loads, weights, busiest, lighter, trade)
                break
        else:
            return


def _best_trade(
    heavy: list[str], light: list[str], weights: Mapping[str, float], gap: float
) -> tuple[str, str | None] | None:
    """The test of ``heavy`` and the test of ``light`` (None: a plain move) whose exchange
    brings the two loads closest to each other, if any exchange narrows the gap."""
    ranked = sorted(light, key=lambda t: (weights[t], t))
    light_weights = [weights[t] for t in ranked]
    best: tuple[float, str, str] | None = None
    for test_id in sorted(heavy):
        mine = weights[test_id]
        want = mine - gap / 2  # the weight of the ideal partner
        at = bisect.bisect_left(light_weights, want)
        partners: list[str | None] = [None, *ranked[max(0, at - 1) : at + 1]]
        for partner in partners:
            delta = mine - (weights[partner] if partner is not None else 0.0)
            if not 1e-9 < delta < gap - 1e-9:
                continue
            score = abs(delta - gap / 2)
            candidate = (score, test_id, partner or "")
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None
    return best[1], (best[2] or None)


def _apply_trade(
    members: list[list[str]],
    loads: list[float],
    weights: Mapping[str, float],
    heavy: int,
    light: int,
    trade: tuple[str, str | None],
) -> None:
    test_id, partner = trade
    members[heavy].remove(test_id)
    members[light].append(test_id)
    delta = weights[test_id]
    if partner is not None:
        members[light].remove(partner)
        members[heavy].append(partner)
        delta -= weights[partner]
    loads[heavy] -= delta
    loads[light] += delta
