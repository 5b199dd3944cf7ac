from __future__ import annotations

import pytest

from greenline.errors import UsageError
from greenline.model import Reason, ReasonKind, SelectedTest, SelectionPlan
from greenline.selection import Budget, limit_to_budget, make_budget, parse_budget

CHANGED = Reason(ReasonKind.CHANGED_BLOCK, "m.py::f")
FAILED = Reason(ReasonKind.FAILED_LAST_TIME, "failed")


def plan(*tests: SelectedTest, full: Reason | None = None) -> SelectionPlan:
    return SelectionPlan(1, "b", tuple(tests), ("t::other",), suite_duration=100.0, full_suite=full)


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("10%", Budget(fraction=0.1)),
        ("90s", Budget(seconds=90)),
        ("2m", Budget(seconds=120)),
        ("1.5", Budget(seconds=1.5)),
        ("250%", Budget(fraction=1.0)),
    ],
)
def test_parse(text: str, budget: Budget) -> None:
    assert parse_budget(text) == budget


@pytest.mark.parametrize("text", ["", "ten", "-5s", "0%", "5h"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="not a budget"):
        parse_budget(text)


def test_keeps_tests_in_order_until_the_budget_is_spent() -> None:
    tests = [SelectedTest(f"t::{i}", (CHANGED,), 4.0) for i in range(5)]
    cut = limit_to_budget(plan(*tests), Budget(fraction=0.1))
    assert [t.test_id for t in cut.selected] == ["t::0", "t::1"]
    assert cut.over_budget == ("t::2", "t::3", "t::4")
    assert cut.unaffected == ("t::other",)


def test_the_first_test_always_runs_and_failures_are_never_cut() -> None:
    tests = [
        SelectedTest("t::slow", (CHANGED,), 50.0),
        SelectedTest("t::next", (CHANGED,), 1.0),
        SelectedTest("t::failed-before", (CHANGED, FAILED), 30.0),
    ]
    cut = limit_to_budget(plan(*tests), Budget(seconds=1))
    assert [t.test_id for t in cut.selected] == ["t::slow", "t::failed-before"]
    assert cut.over_budget == ("t::next",)


def test_a_full_suite_plan_ignores_the_budget() -> None:
    full = plan(SelectedTest("t::a", (CHANGED,), 90.0), full=Reason(ReasonKind.FULL_SUITE, "x"))
    assert limit_to_budget(full, Budget(seconds=1)) == full


@pytest.mark.parametrize(("text", "level"), [("0.99", 0.99), ("99%", 0.99), ("1", 1.0)])
def test_parse_confidence(text: str, level: float) -> None:
    assert make_budget(None, text) == Budget(confidence=level)
    assert make_budget("10%", text) == Budget(fraction=0.1, confidence=level)


@pytest.mark.parametrize("text", ["0", "1.5", "high", "-0.5"])
def test_parse_confidence_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="not a confidence"):
        make_budget(None, text, prefix="--greenline-")


def test_confidence_keeps_tests_until_they_hold_that_share_of_the_likelihood() -> None:
    tests = [
        SelectedTest("t::likely", (CHANGED,), 1.0, likelihood=0.6),
        SelectedTest("t::maybe", (CHANGED,), 1.0, likelihood=0.3),
        SelectedTest("t::unlikely", (CHANGED,), 1.0, likelihood=0.1),
    ]
    assert [t.test_id for t in limit_to_budget(plan(*tests), Budget(confidence=0.5)).selected] == [
        "t::likely"
    ]
    assert [t.test_id for t in limit_to_budget(plan(*tests), Budget(confidence=0.9)).selected] == [
        "t::likely",
        "t::maybe",
    ]
    everything = limit_to_budget(plan(*tests), Budget(confidence=1.0))
    assert len(everything.selected) == 3 and not everything.over_budget


def test_confidence_and_time_together_stop_at_the_stricter() -> None:
    tests = [SelectedTest(f"t::{i}", (CHANGED,), 10.0, likelihood=0.5) for i in range(4)]
    both = limit_to_budget(plan(*tests), Budget(seconds=15, confidence=0.99))
    assert [t.test_id for t in both.selected] == ["t::0"]
