"""The culprit search on literal histories: a deterministic breakage anywhere in the range,
flaky failures at 5%, 20% and 50%, no culprit at all, an untestable commit, and coverage's
prior. Every trial is seeded: the same outcomes every time."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from greenline.model.recovery import (
    CandidateCommit,
    CulpritAnswer,
    CulpritStatus,
    Probe,
    ProbeResult,
)
from greenline.recovery import CulpritSearch

World = Callable[[int], ProbeResult]


def commits(n: int, touching: set[int] | None = None) -> list[CandidateCommit]:
    return [
        CandidateCommit(f"c{i}", touches_tests=touching is None or i in touching) for i in range(n)
    ]


def world(culprit: int | None, flake: float, rng: random.Random, untestable=()) -> World:  # type: ignore[no-untyped-def]
    def outcome(index: int) -> ProbeResult:
        if index in untestable:
            return ProbeResult.UNTESTABLE
        if culprit is not None and index >= culprit:
            return ProbeResult.FAILED
        return ProbeResult.FAILED if rng.random() < flake else ProbeResult.PASSED

    return outcome


def search(
    candidates: list[CandidateCommit], outcome: World, runners: int = 2
) -> tuple[CulpritAnswer, int]:
    s = CulpritSearch(candidates, confidence=0.99)
    runs = 0
    while batch := s.next_probes(runners):
        for index in batch:
            s.record(Probe(index, outcome(index)))
            runs += 1
    answer = s.answer()
    assert answer is not None
    return answer, runs


@pytest.mark.parametrize("culprit", [0, 1, 7, 15, 30, 31])
def test_a_deterministic_breakage_is_found_and_confirmed_anywhere(culprit: int) -> None:
    answer, runs = search(commits(32), world(culprit, 0.0, random.Random(culprit)))
    assert answer.status is CulpritStatus.FOUND and answer.commits == (culprit,)
    assert answer.confirmed and answer.posterior >= 0.99
    assert runs <= 16, "about two probes per halving, not a linear scan"


@pytest.mark.parametrize(("flake", "least"), [(0.05, 1.0), (0.2, 0.95), (0.5, 0.85)])
def test_flaky_failures_before_the_culprit_never_name_a_wrong_commit(
    flake: float, least: float
) -> None:
    rng = random.Random(int(flake * 100))
    right = 0
    for _ in range(20):
        n = rng.randint(16, 40)
        culprit = rng.randrange(n)
        answer, _ = search(commits(n), world(culprit, flake, rng))
        assert answer.status in (CulpritStatus.FOUND, CulpritStatus.UNDECIDED)
        if answer.status is CulpritStatus.FOUND:
            assert answer.commits == (culprit,), f"a wrong culprit at flake rate {flake}"
            right += 1
    assert right / 20 >= least


@pytest.mark.parametrize("flake", [0.05, 0.2])
def test_a_red_run_made_by_a_flaky_test_has_no_culprit(flake: float) -> None:
    rng = random.Random(7)
    answers = []
    for _ in range(15):
        # the bad revision failed (that is why we look) although nothing broke
        answer, _ = search(commits(rng.randint(16, 40)), world(None, flake, rng))
        answers.append(answer.status)
    assert CulpritStatus.FOUND not in answers
    assert answers.count(CulpritStatus.NO_CULPRIT) >= 14


def test_an_untestable_commit_before_the_culprit_makes_the_answer_ambiguous() -> None:
    answer, _ = search(commits(16), world(9, 0.0, random.Random(1), untestable={8}))
    assert answer.status is CulpritStatus.AMBIGUOUS and answer.commits == (8, 9)
    assert not answer.confirmed


def test_an_untestable_commit_elsewhere_is_skipped() -> None:
    answer, _ = search(commits(16), world(9, 0.0, random.Random(1), untestable={3, 12}))
    assert answer.status is CulpritStatus.FOUND and answer.commits == (9,)


def test_coverage_makes_the_likely_commits_cheaper_to_find() -> None:
    rng = random.Random(3)
    with_prior = without = 0
    for _ in range(10):
        culprit = rng.randrange(40)
        touching = {culprit, *rng.sample(range(40), 4)}
        with_prior += search(commits(40, touching), world(culprit, 0.0, rng))[1]
        without += search(commits(40), world(culprit, 0.0, rng))[1]
    assert with_prior < without


def test_a_probe_budget_ends_in_an_explicit_refusal() -> None:
    s = CulpritSearch(commits(8), confidence=0.99, max_probes=3)
    rng = random.Random(0)
    while batch := s.next_probes(1):
        for index in batch:
            s.record(Probe(index, ProbeResult.FAILED if rng.random() < 0.5 else ProbeResult.PASSED))
    answer = s.answer()
    assert answer is not None and answer.status is CulpritStatus.UNDECIDED
    assert s.probes == 3
