"""The simulator drives the same engine: a seed decides everything, main stays green (checked at
every landing against the ground truth), and the strategies differ the way the field knows."""

from __future__ import annotations

import itertools

from greenline.mergequeue.simulate import Scenario, make_changes, simulate
from greenline.model.queue import Strategy


def scenario(strategy: Strategy, seed: int = 3) -> Scenario:
    # 8 runners, 30-minute CI, 7 changes an hour: about 70% of what pre-check + gate can take
    return Scenario(changes=150, runners=8, arrival_rate=7.0, strategy=strategy, seed=seed)


def test_a_seed_decides_the_whole_run() -> None:
    first = simulate(scenario(Strategy.GREENLINE)).summary()
    assert simulate(scenario(Strategy.GREENLINE)).summary() == first
    assert simulate(scenario(Strategy.GREENLINE, seed=4)).summary() != first


def test_the_changes_follow_the_scenario() -> None:
    changes = make_changes(Scenario(changes=2000, seed=1))
    bad = sum(c.bad for c in changes) / len(changes)
    conflicts = sum(c.partner is not None for c in changes) / len(changes)
    assert 0.27 < bad < 0.33 and 0.035 < conflicts < 0.065
    assert all(c.shared in c.areas for c in changes if c.partner)
    gaps = [b.arrival - a.arrival for a, b in itertools.pairwise(changes)]
    assert 60 / 13.0 * 0.9 < sum(gaps) / len(gaps) < 60 / 13.0 * 1.1  # minutes between arrivals


def test_every_change_is_decided_and_greenline_outpaces_serial() -> None:
    results = {s: simulate(scenario(s)).summary() for s in Strategy}
    for doc in results.values():
        assert doc["merged"] + doc["rejected"] == 150
        assert doc["main_green_share"] == 1.0
    serial, greenline = results[Strategy.SERIAL], results[Strategy.GREENLINE]
    # greenline keeps up with the arrivals (3.5 per CI duration, 70% of them good); serial
    # lands at most one change per run
    assert greenline["throughput_per_ci_duration"] > 2.5 * serial["throughput_per_ci_duration"]
    assert serial["throughput_per_ci_duration"] < 1.0
    assert greenline["rejection_p95_ci"] < 1.5 < serial["rejection_p95_ci"]
    # flaky failures re-run instead of rejecting an innocent change
    assert greenline["innocent_rejections"] == 0 and greenline["flaky_reports"] > 0
