"""Passive flaky detection on literal histories (the engine is pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from greenline.flaky import detect_flaky, guess_category
from greenline.model import EvidenceKind, FlakyCategory, Observation, Outcome, Verdict

T0 = datetime(2026, 11, 1, tzinfo=UTC)
P, F = Outcome.PASSED, Outcome.FAILED


def seen(
    test: str,
    run: int,
    outcome: Outcome,
    *,
    sha: str = "a" * 40,
    dirty: bool = False,
    attempt: int = 1,
    message: str | None = None,
    env: str = "py3.11",
) -> Observation:
    return Observation(
        test, run, T0 + timedelta(hours=run), sha, dirty, env, attempt, outcome, 2.0, message
    )


def verdicts(*observations: Observation) -> dict[str, object]:
    return {v.test_id: v for v in detect_flaky(observations)}


def test_passing_and_failing_on_the_same_code_is_flaky() -> None:
    v = verdicts(seen("t::a", 1, P), seen("t::a", 2, F), seen("t::a", 3, P))["t::a"]
    assert v.verdict is Verdict.FLAKY and v.confidence == 0.95  # type: ignore[attr-defined]
    (evidence,) = v.evidence  # type: ignore[attr-defined]
    assert evidence.kind is EvidenceKind.SAME_CODE and evidence.run_ids == (1, 2, 3)
    assert v.failures == 1 and v.runs == 3 and v.wasted_seconds == 2.0  # type: ignore[attr-defined]


def test_different_code_or_an_edited_tree_explains_a_change_of_outcome() -> None:
    history = verdicts(
        seen("t::a", 1, P, sha="a" * 40),
        seen("t::a", 2, F, sha="b" * 40),
        seen("t::b", 1, P),
        seen("t::b", 2, F, dirty=True),
        seen("t::c", 1, P, env="py3.11"),
        seen("t::c", 2, F, env="py3.12"),
    )
    assert {t: v.verdict for t, v in history.items()} == {  # type: ignore[attr-defined]
        "t::a": Verdict.STABLE,
        "t::b": Verdict.STABLE,
        "t::c": Verdict.STABLE,
    }


def test_passing_on_a_retry_is_flaky() -> None:
    v = verdicts(seen("t::a", 1, F, attempt=1), seen("t::a", 1, P, attempt=2))["t::a"]
    assert v.verdict is Verdict.FLAKY  # type: ignore[attr-defined]
    assert [e.kind for e in v.evidence] == [EvidenceKind.PASSED_ON_RETRY]  # type: ignore[attr-defined]


def test_flipping_across_commits_is_weaker_evidence() -> None:
    outcomes = [P, F, P, F, P]
    v = verdicts(*(seen("t::a", i, o, sha=f"{i}" * 40) for i, o in enumerate(outcomes)))["t::a"]
    assert v.verdict is Verdict.FLAKY and v.confidence == 0.6  # type: ignore[attr-defined]
    three = [P, F, P, F]
    w = verdicts(*(seen("t::a", i, o, sha=f"{i}" * 40) for i, o in enumerate(three)))["t::a"]
    assert w.verdict is Verdict.STABLE  # type: ignore[attr-defined]


def test_failing_every_time_is_a_real_failure_not_a_flake() -> None:
    v = verdicts(seen("t::a", 1, F), seen("t::a", 2, F), seen("t::a", 3, F))["t::a"]
    assert v.verdict is Verdict.FAILING and v.wasted_seconds == 0  # type: ignore[attr-defined]


def test_flaky_tests_come_first_most_time_lost_first() -> None:
    order = [
        v.test_id
        for v in detect_flaky(
            [
                seen("t::stable", 1, P),
                seen("t::small", 1, P),
                seen("t::small", 2, F),
                seen("t::big", 1, F),
                seen("t::big", 2, P),
                seen("t::big", 3, F),
                seen("t::broken", 1, F),
            ]
        )
    ]
    assert order == ["t::big", "t::small", "t::broken", "t::stable"]


def test_failure_messages_suggest_a_cause() -> None:
    v = verdicts(
        seen("t::a", 1, P),
        seen("t::a", 2, F, message="requests.exceptions.ConnectionError: Max retries exceeded"),
    )["t::a"]
    assert v.category is FlakyCategory.NETWORK  # type: ignore[attr-defined]
    assert EvidenceKind.FAILURE_MESSAGE in [e.kind for e in v.evidence]  # type: ignore[attr-defined]


def test_guess_category() -> None:
    assert guess_category(["assert 0.30000000000000004 == 0.3"]) == (
        FlakyCategory.FLOATING_POINT,
        1,
    )
    assert guess_category(["AssertionError: assert {'b', 'a'} == ['a', 'b']"])[0] is (
        FlakyCategory.UNORDERED_COLLECTION
    )
    assert guess_category(["FileNotFoundError: /tmp/x"])[0] is FlakyCategory.IO
    assert guess_category(["assert 2 == 3"]) == (FlakyCategory.UNKNOWN, 0)
