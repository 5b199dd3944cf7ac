"""The merge queue for interfaces: the simulator today (pure, no repository needed)."""

from __future__ import annotations

from typing import Any

from greenline.errors import UsageError
from greenline.mergequeue.simulate import Scenario, load_arrival_rate, simulate
from greenline.model.queue import Strategy

SIMULATION_SCHEMA = "greenline.queue-simulation/1"
DEFAULT_LOAD = 0.7


def simulate_queue(
    *,
    changes: int,
    fail_rate: float,
    conflict_rate: float,
    flake_rate: float,
    ci_minutes: float,
    runners: int,
    arrival_rate: float | None,
    strategies: list[Strategy],
    seed: int,
) -> dict[str, Any]:
    """Simulate the queue under each strategy with the same changes; ``arrival_rate`` (changes
    per hour) defaults to 70% of what the runners can take."""
    for flag, value in (
        ("--fail-rate", fail_rate),
        ("--conflict-rate", conflict_rate),
        ("--flake-rate", flake_rate),
    ):
        if not 0 <= value < 1:
            raise UsageError(f"{flag} {value}: a probability from 0 up to 1", hint=f"{flag} 0.3")
    for flag, number in (("--changes", changes), ("--runners", runners)):
        if number < 1:
            raise UsageError(f"{flag} {number}: at least 1", hint=f"{flag} 16")
    if ci_minutes <= 0:
        raise UsageError(f"--ci-minutes {ci_minutes}: must be positive", hint="--ci-minutes 30")
    if arrival_rate is not None and arrival_rate <= 0:
        raise UsageError(
            f"--arrival-rate {arrival_rate}: changes per hour, must be positive",
            hint="leave it out for 70% of what the runners can take",
        )
    rate = arrival_rate or load_arrival_rate(DEFAULT_LOAD, runners, fail_rate, ci_minutes)
    results = []
    for strategy in strategies:
        scenario = Scenario(
            changes=changes,
            fail_rate=fail_rate,
            conflict_rate=conflict_rate,
            flake_rate=flake_rate,
            ci_minutes=ci_minutes,
            runners=runners,
            arrival_rate=rate,
            strategy=strategy,
            seed=seed,
        )
        results.append(simulate(scenario).summary())
    return {
        "schema": SIMULATION_SCHEMA,
        "scenario": {
            "changes": changes,
            "fail_rate": fail_rate,
            "conflict_rate": conflict_rate,
            "flake_rate": flake_rate,
            "ci_minutes": ci_minutes,
            "runners": runners,
            "arrival_per_hour": round(rate, 3),
            "seed": seed,
        },
        "strategies": results,
    }
