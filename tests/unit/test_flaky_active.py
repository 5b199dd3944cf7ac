"""Active detection's judging and delta debugging on literal trials (the engines are pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from greenline.flaky.active import Trial, TrialKind, judge_scan
from greenline.flaky.experiments import MAX_RUNS, Condition, Experiment, upper_bound
from greenline.flaky.polluters import DeltaSearch
from greenline.model import FlakyCategory, Outcome, Verdict

P, F = Outcome.PASSED, Outcome.FAILED


def trial(kind: TrialKind, outcome: Outcome, message: str = "") -> Trial:
    return Trial(kind, ("t::a",), {"t::a": outcome}, {"t::a": message} if message else {})


def test_both_outcomes_in_controlled_runs_is_proof() -> None:
    v = judge_scan("t::a", [trial(TrialKind.SAME_ORDER, P), trial(TrialKind.SHUFFLED, F)])
    assert v.verdict is Verdict.FLAKY and v.confidence == 0.99 and v.failures == 1


def test_steady_in_order_and_alone_but_not_shuffled_is_order_dependent() -> None:
    trials = [trial(TrialKind.SAME_ORDER, P)] * 3 + [trial(TrialKind.ISOLATED, P)] * 2
    trials += [trial(TrialKind.SHUFFLED, F), trial(TrialKind.SHUFFLED, P)]
    v = judge_scan("t::a", trials)
    assert v.category is FlakyCategory.ORDER_DEPENDENT
    assert "fails after some other tests" in str(v.evidence[-1])
    brittle = [trial(TrialKind.SAME_ORDER, P)] * 3 + [trial(TrialKind.ISOLATED, F)] * 2
    w = judge_scan("t::a", [*brittle, trial(TrialKind.SHUFFLED, P)])
    assert w.category is FlakyCategory.ORDER_DEPENDENT
    assert "fails alone" in str(w.evidence[-1])


def test_flipping_in_the_same_order_is_not_about_order() -> None:
    trials = [trial(TrialKind.SAME_ORDER, P), trial(TrialKind.SAME_ORDER, F, "ConnectionError: x")]
    v = judge_scan("t::a", [*trials, trial(TrialKind.SHUFFLED, P)])
    assert v.category is FlakyCategory.NETWORK
    assert [str(e) for e in v.evidence][-1] == "order: flips even in the same order"


@pytest.mark.parametrize(
    ("outcomes", "verdict", "confidence"),
    [
        ([P, P, P, P], Verdict.STABLE, 0.875),
        ([F, F], Verdict.FAILING, 0.5),
        ([], Verdict.STABLE, 0.0),
    ],
)
def test_agreeing_runs(outcomes: list[Outcome], verdict: Verdict, confidence: float) -> None:
    v = judge_scan("t::a", [trial(TrialKind.SHUFFLED, o) for o in outcomes])
    assert (v.verdict, v.confidence) == (verdict, confidence)


@pytest.mark.parametrize(
    ("culprits", "most_trials"), [({"t7"}, 12), ({"t2", "t25"}, 80), ({"t0"}, 12)]
)
def test_delta_search_finds_the_minimal_culprits(culprits: set[str], most_trials: int) -> None:
    candidates = [f"t{i}" for i in range(32)]
    search = DeltaSearch(candidates)
    while (step := search.next_trial()) is not None:
        search.record(culprits <= set(step))
    assert set(search.result or ()) == culprits
    assert search.trials <= most_trials


def test_delta_search_without_a_culprit_stops_at_once() -> None:
    search = DeltaSearch(["a", "b", "c"])
    assert search.next_trial() == ("a", "b", "c")
    search.record(False)
    assert search.next_trial() is None and search.result is None and search.trials == 1


def drive(
    condition: str, failures: int, runs: int, outcome: Callable[[int, int], bool]
) -> Experiment:
    """Run an experiment to its end for a test seen failing ``failures`` of ``runs`` times by
    itself; ``outcome(setting, nth run there)`` says if it failed."""
    experiment = Experiment(Condition(condition), failures, runs)
    seen: Counter[int] = Counter()
    while (setting := experiment.next_setting()) is not None:
        experiment.record(setting, outcome(setting, seen[setting]))
        seen[setting] += 1
    return experiment


def test_the_estimated_rate_is_taken_at_its_plausible_worst() -> None:
    # Wilson score interval, two standard deviations: 8 of 16 may well be 72% either way
    assert round(upper_bound(8, 16), 3) == 0.724
    assert round(upper_bound(1, 16), 3) == 0.289 and round(upper_bound(15, 16), 3) == 0.989
    assert upper_bound(16, 16) == 1.0 and upper_bound(0, 16) > 0
    # the more runs, the tighter
    assert upper_bound(50, 100) < upper_bound(8, 16) < upper_bound(2, 4)


def test_an_experiment_needs_enough_agreeing_runs_to_rule_out_luck() -> None:
    # fails 8 of 16 runs by itself; the condition decides it. Were the true rate 72%, fifteen
    # agreeing repeats would still happen by luck less than 1% of the time: 1 + 15 runs
    decided = drive("fixed hash seed", 8, 16, lambda s, n: s % 2 == 0)
    assert decided.attributed and decided.runs == [(0, True)] * 16
    assert decided.chance == pytest.approx(upper_bound(8, 16) ** 15)
    assert upper_bound(8, 16) ** 15 < 0.01 <= upper_bound(8, 16) ** 14
    assert decided.describe() == "hash seed 0 failed all 16 (chance agreement 0.008)"
    # the second run at a setting disagrees with the first: refuted at once
    luck = drive("fixed hash seed", 8, 16, lambda s, n: n == 1)
    assert luck.refuted and not luck.attributed and len(luck.runs) == 2
    # it never agrees with itself: the budget runs out without a verdict either way
    assert not drive("seeded random", 99, 100, lambda s, n: True).attributed


def test_an_experiment_repeats_the_setting_whose_outcome_is_rare() -> None:
    # fails 10 runs in 12 by itself; seeds 0-2 fail, seed 3 passes: seven passes there suffice
    experiment = drive("fixed hash seed", 10, 12, lambda s, n: s != 3)
    assert experiment.attributed
    assert experiment.runs == [(0, True), (1, True), (2, True)] + [(3, False)] * 7
    assert experiment.describe().startswith("hash seed 3 passed all 7")
    # an 8-instant clock, every instant failing: it ends repeating one of them, undecided
    clock = drive("frozen clock", 10, 12, lambda s, n: True)
    assert [s for s, _ in clock.runs[:8]] == list(range(8)) and len(clock.runs) == MAX_RUNS
    assert not clock.attributed and not clock.refuted
    # a single setting (the network blocked): all runs there
    network = drive("blocked network", 3, 10, lambda s, n: True)
    assert network.attributed and {s for s, _ in network.runs} == {0} and len(network.runs) == 11
    with pytest.raises(ValueError):
        Experiment(Condition.HASH_SEED, 0, 16)


def test_patches_only_add_statements_and_never_weaken_a_test() -> None:
    from greenline.flaky.borrow import borrow_reset
    from greenline.flaky.fixes import FixError, seed_random

    victim = 'import settings\n\n\ndef test_v():\n    """Doc."""\n    assert settings.X == 1\n'
    cleaner = (
        "import settings\nimport time\n\n\ndef test_c():\n    settings.X = 1\n"
        "    time.sleep(1)\n    assert settings.X == 1\n"
    )
    patch = borrow_reset("t.py", victim, "test_v", cleaner, "c.py::test_c", "cleaner")
    assert patch.after == (
        'import settings\n\n\ndef test_v():\n    """Doc."""\n'
        "    # greenline: reset what other tests leave behind (from cleaner c.py::test_c)\n"
        "    settings.X = 1\n    assert settings.X == 1\n"
    )
    seeded = seed_random(
        "t.py",
        '"""Module."""\nfrom __future__ import annotations\n\n\ndef test_r():\n    assert 1\n',
        "test_r",
    )
    assert seeded.after.splitlines()[:3] == [
        '"""Module."""',
        "from __future__ import annotations",
        "import random",
    ]
    assert "    random.seed(0)\n    assert 1\n" in seeded.after
    with pytest.raises(FixError, match="no statements"):
        borrow_reset(
            "t.py", victim, "test_v", "def test_c():\n    assert True\n", "c.py::test_c", "cleaner"
        )


def test_order_dependence_needs_steadiness_that_luck_would_rarely_give() -> None:
    from greenline.flaky.active import steady_by_luck

    # fails in 4 of 8 shuffled orders, never in 4 same-order runs or 2 alone: a test failing
    # 4 times in 14 whatever the order would look this steady more than one time in ten
    trials = [trial(TrialKind.SHUFFLED, F if i % 2 == 0 else P) for i in range(8)]
    trials += [trial(TrialKind.SAME_ORDER, P)] * 4 + [trial(TrialKind.ISOLATED, P)] * 2
    rate = 4 / 14
    expected = (rate**4 + (1 - rate) ** 4) * (rate**2 + (1 - rate) ** 2)
    assert steady_by_luck("t::a", trials) == pytest.approx(expected) and expected > 0.1
    # six more passes alone make luck a less likely explanation (the rate drops too)
    more = trials + [trial(TrialKind.ISOLATED, P)] * 6
    assert steady_by_luck("t::a", more) < steady_by_luck("t::a", trials) / 2
    assert steady_by_luck("t::other", trials) == 1.0
