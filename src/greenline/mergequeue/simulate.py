"""The merge-queue simulator: the same engine, driven by a simulated clock and a simulated CI.

Changes arrive as a Poisson process. Each change breaks tests by itself with probability
``fail_rate``; with probability ``conflict_rate`` it conflicts with one of the ten changes that
arrived just before it (any tree holding both fails, in a test of the area they share). Every
check run also fails in a known-flaky test with probability ``flake_rate``. A change touches one
to three of forty test areas (its impacted tests). A run that passes takes about one CI duration;
one that fails stops at its first failure: early when that test runs first (greenline runs the
new changes' impacted tests first), anywhere in the run otherwise.

The simulator checks the ground truth at every landing: main is green while it holds no breaking
change and no conflicting pair (nothing reverts here, so a broken main stays red to the end).
Pure: the seed decides everything.
"""

from __future__ import annotations

import heapq
import random
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from greenline.mergequeue.engine import initial_state, step
from greenline.model.queue import (
    Added,
    CancelRun,
    Eject,
    Event,
    FlakyTestsKnown,
    Land,
    QueueConfig,
    QueueEntry,
    RunFinished,
    StartRun,
    Strategy,
)

AREAS = 40
FLAKY_TESTS = tuple(f"flaky-{k}" for k in range(8))
PARTNER_SPAN = 10  # a conflict is with one of this many changes that arrived just before


@dataclass(frozen=True, slots=True)
class Scenario:
    changes: int = 1000
    fail_rate: float = 0.3
    conflict_rate: float = 0.05
    flake_rate: float = 0.03
    ci_minutes: float = 30.0
    runners: int = 16
    arrival_rate: float = 13.0  # changes per hour
    strategy: Strategy = Strategy.GREENLINE
    seed: int = 1


@dataclass(frozen=True, slots=True)
class _Change:
    change_id: str
    arrival: float
    bad: bool
    partner: str | None
    areas: frozenset[str]
    shared: str | None  # the area a conflict shows in


@dataclass
class SimResult:
    scenario: Scenario
    merged: int = 0
    rejected: int = 0
    innocent_rejections: int = 0
    runs: int = 0
    cancelled: int = 0
    makespan_min: float = 0.0
    merge_minutes: list[float] = field(default_factory=list)
    rejection_minutes: list[float] = field(default_factory=list)
    green_minutes: float = 0.0
    flaky_reports: int = 0

    def summary(self) -> dict[str, Any]:
        ci = self.scenario.ci_minutes
        durations = self.makespan_min / ci if self.makespan_min else 0.0
        return {
            "strategy": self.scenario.strategy.value,
            "seed": self.scenario.seed,
            "changes": self.scenario.changes,
            "merged": self.merged,
            "rejected": self.rejected,
            "throughput_per_ci_duration": round(self.merged / durations, 3) if durations else 0.0,
            "ci_runs_per_merge": round(self.runs / self.merged, 3) if self.merged else None,
            "cancelled_runs": self.cancelled,
            "merge_p50_ci": _quantile(self.merge_minutes, 0.5, ci),
            "merge_p95_ci": _quantile(self.merge_minutes, 0.95, ci),
            "rejection_p95_ci": _quantile(self.rejection_minutes, 0.95, ci),
            "innocent_rejections": self.innocent_rejections,
            "innocent_share": (
                round(self.innocent_rejections / self.rejected, 4) if self.rejected else 0.0
            ),
            "main_green_share": (
                round(self.green_minutes / self.makespan_min, 4) if self.makespan_min else 1.0
            ),
            "flaky_reports": self.flaky_reports,
        }


def _quantile(values: list[float], q: float, unit: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] / unit, 3)
    return round(
        statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] / unit, 3
    )


def load_arrival_rate(load: float, runners: int, fail_rate: float, ci_minutes: float) -> float:
    """Changes per hour at ``load`` of what the runners can take when every change needs one
    pre-check run and, when it passes, one gate run."""
    return load * runners / ((2 - fail_rate) * ci_minutes) * 60


def default_config(strategy: Strategy, runners: int) -> QueueConfig:
    """Each strategy as its anchor runs it: serial one at a time; bors batches everything
    waiting (up to 32) and bisects; Zuul starts a window of 20 and halves it on failures; none
    of them re-runs flaky failures. Greenline pre-checks alone, then speculates in a window that
    adapts, and re-runs failures that are all in known-flaky tests."""
    if strategy is Strategy.SERIAL:
        return QueueConfig(strategy=strategy, runners=runners, window=1, flaky_retries=0)
    if strategy is Strategy.BATCH_BISECT:
        return QueueConfig(strategy=strategy, runners=runners, window=1, batch=32, flaky_retries=0)
    if strategy is Strategy.OPTIMISTIC:
        return QueueConfig(
            strategy=strategy, runners=runners, window=20, window_floor=3, flaky_retries=0
        )
    return QueueConfig(strategy=strategy, runners=runners, window=8, window_floor=2, batch=1)


def make_changes(scenario: Scenario) -> list[_Change]:
    rng = random.Random(scenario.seed)
    changes: list[_Change] = []
    t = 0.0
    for i in range(scenario.changes):
        t += rng.expovariate(scenario.arrival_rate / 60.0)
        areas = frozenset(f"area-{a}" for a in rng.sample(range(AREAS), rng.randint(1, 3)))
        partner = shared = None
        if changes and rng.random() < scenario.conflict_rate:
            other = rng.choice(changes[-PARTNER_SPAN:])
            partner, shared = other.change_id, rng.choice(sorted(other.areas))
            areas = areas | {shared}
        bad = rng.random() < scenario.fail_rate
        changes.append(_Change(f"c{i:04d}", t, bad, partner, areas, shared))
    return changes


def simulate(scenario: Scenario, config: QueueConfig | None = None) -> SimResult:
    """Run the whole scenario; the engine decides, the simulated CI answers."""
    rng = random.Random(scenario.seed * 7919 + 1)
    config = config or default_config(scenario.strategy, scenario.runners)
    config = replace(config, strategy=scenario.strategy, runners=scenario.runners)
    changes = make_changes(scenario)
    by_id = {c.change_id: c for c in changes}
    conflicts_with: dict[str, list[str]] = {}  # the other side of each conflicting pair
    for change in changes:
        if change.partner:
            conflicts_with.setdefault(change.partner, []).append(change.change_id)
    result = SimResult(scenario)
    state = initial_state(config, "main0")
    state, _ = step(state, [FlakyTestsKnown(frozenset(FLAKY_TESTS))], 0.0)
    queue: list[tuple[float, int, Event]] = []
    seq = 0

    def push(when: float, event: Event) -> None:
        nonlocal seq
        heapq.heappush(queue, (when, seq, event))
        seq += 1

    for change in changes:
        entry = QueueEntry(change.change_id, change.change_id, change.arrival, 0, change.areas)
        push(change.arrival, Added(entry))
    landed: set[str] = set()
    ejected: list[_Change] = []
    cancelled: set[str] = set()
    broken_at: float | None = None
    now = 0.0
    while queue:
        now = queue[0][0]
        events: list[Event] = []
        while queue and queue[0][0] == now:
            event = heapq.heappop(queue)[2]
            if isinstance(event, RunFinished) and event.run_id in cancelled:
                continue
            events.append(event)
        if not events:
            continue
        state, actions = step(state, events, now)
        for action in actions:
            if isinstance(action, StartRun):
                result.runs += 1
                failed, minutes = _outcome(action, by_id, scenario, rng)
                push(now + minutes, RunFinished(action.run.run_id, not failed, failed))
            elif isinstance(action, CancelRun):
                cancelled.add(action.run_id)
                result.cancelled += 1
            elif isinstance(action, Land):
                landed.update(action.changes)
                if broken_at is None and _broken(landed, by_id):
                    broken_at = now  # nothing reverts in this model: main stays red from here
                for change_id in action.changes:
                    result.merged += 1
                    result.merge_minutes.append(now - by_id[change_id].arrival)
            elif isinstance(action, Eject):
                change = by_id[action.change_id]
                result.rejected += 1
                result.rejection_minutes.append(now - change.arrival)
                ejected.append(change)
            else:
                result.flaky_reports += 1
    # innocent: it breaks nothing by itself and no change it conflicts with landed (by the end)
    for change in ejected:
        partners = {change.partner, *conflicts_with.get(change.change_id, ())}
        if not change.bad and not partners & landed:
            result.innocent_rejections += 1
    start = changes[0].arrival if changes else 0.0
    result.makespan_min = now - start
    result.green_minutes = (broken_at if broken_at is not None else now) - start
    return result


def _broken(landed: set[str], by_id: dict[str, _Change]) -> bool:
    return any(
        by_id[c].bad or (by_id[c].partner is not None and by_id[c].partner in landed)
        for c in landed
    )


def _outcome(
    action: StartRun, by_id: dict[str, _Change], scenario: Scenario, rng: random.Random
) -> tuple[tuple[str, ...], float]:
    """Which tests fail on the run's tree, and how long the run takes (minutes)."""
    tree = set(action.run.changes)
    failed: list[str] = []
    for change_id in action.run.changes:
        change = by_id[change_id]
        if change.bad:
            failed.append(min(change.areas))
        if change.partner in tree and change.shared:
            failed.append(change.shared)
    real = bool(failed)
    if rng.random() < scenario.flake_rate:
        failed.append(rng.choice(FLAKY_TESTS))
    ci = scenario.ci_minutes
    if not failed:
        return (), ci * rng.uniform(0.9, 1.1)
    first = set(action.tests_first)
    if real and first & set(failed):
        return tuple(sorted(set(failed))), ci * rng.uniform(0.05, 0.35)
    return tuple(sorted(set(failed))), ci * rng.uniform(0.1, 1.0)
