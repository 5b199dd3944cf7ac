"""Derived values kept between requests: given back for the same key, derived anew for
another, the oldest forgotten; git's answers kept only for full commit ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenline.api.derived import CommitFacts, Derived
from greenline.errors import VcsError
from tests.conftest import git


def test_a_value_is_kept_per_key_and_the_least_recent_makes_room() -> None:
    kept = Derived(keep=2)
    calls: list[str] = []

    def derive(value: str) -> str:
        calls.append(value)
        return value.upper()

    assert kept.get("n", "a", lambda: derive("a")) == "A"
    assert kept.get("n", "a", lambda: derive("again")) == "A"
    kept.get("n", "b", lambda: derive("b"))
    kept.get("n", "a", lambda: derive("a2"))  # a is the most recent now
    kept.get("n", "c", lambda: derive("c"))  # b makes room
    assert kept.get("n", "b", lambda: derive("b2")) == "B2"
    assert kept.get("other", "a", lambda: derive("x")) == "X", "names keep apart"
    assert calls == ["a", "b", "c", "b2", "x"]


def test_commit_facts_keep_answers_about_full_ids_only(git_repo: Path) -> None:
    facts = CommitFacts(git_repo)
    first = git(git_repo, "rev-parse", "HEAD")
    assert facts.resolve("main") == first
    (git_repo / "x.txt").write_text("x\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "x")
    second = git(git_repo, "rev-parse", "HEAD")
    assert facts.resolve("main") == second, "a branch is asked again"
    assert facts.resolve(first) == first
    assert facts.is_ancestor(first, second) and not facts.is_ancestor(second, first)
    with pytest.raises(VcsError):
        facts.resolve("0" * 40)
