"""Active detection's judging and delta debugging on literal trials (the engines are pure)."""

from __future__ import annotations

import pytest

from greenline.flaky.active import Trial, TrialKind, judge_scan
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


def test_experiments_need_enough_runs_to_rule_out_luck() -> None:
    from greenline.flaky.experiments import attributes, chance_agreement, runs_needed

    assert runs_needed(0.5) == 8  # 2 * 0.5**8 = 0.008
    assert runs_needed(0.02) is None, "a rare flake cannot be pinned in 16 runs"
    assert chance_agreement(0.5, 8) < 0.01 <= chance_agreement(0.5, 7)
    assert attributes([False] * 8, 0.5) and attributes([True] * 8, 0.5)
    assert not attributes([False] * 6, 0.5), "six agreeing runs can still be luck"
    assert not attributes([False, True, False, False, False, False, False, False], 0.5)


def test_patches_only_add_statements_and_never_weaken_a_test() -> None:
    from greenline.flaky.fixes import FixError, borrow_reset, donor_statements, seed_random

    victim = 'import settings\n\n\ndef test_v():\n    """Doc."""\n    assert settings.X == 1\n'
    cleaner = (
        "import settings\nimport time\n\n\ndef test_c():\n    settings.X = 1\n"
        "    time.sleep(1)\n    assert settings.X == 1\n"
    )
    assert donor_statements(cleaner, "test_c") == ["settings.X = 1"]
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
        donor_statements("def test_c():\n    assert True\n", "test_c")
    with pytest.raises(FixError, match="takes fixtures"):
        donor_statements("def test_c(tmp_path):\n    x = 1\n", "test_c")
