"""GitHub's webhook payloads read as the merge queue's values: pull requests with their labels,
CI verdicts on a commit pushed as a branch (only conclusions that are a verdict), pushes; what is
malformed or beside the point reads as None."""

from __future__ import annotations

from typing import Any

import pytest

from greenline.forge.pull_events import read_ci_result, read_pull, read_pull_event, read_push
from greenline.model.pulls import (
    BranchMoved,
    CiResult,
    number_of,
    queue_branch,
    run_of_branch,
)

SHA = "a" * 40
OTHER = "b" * 40


def pull(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "number": 7,
        "title": "Fix `it` <b>now</b>",
        "state": "open",
        "merged": False,
        "head": {"ref": "fix", "sha": SHA},
        "base": {"ref": "main", "sha": OTHER},
        "labels": [{"name": "bug"}, {"name": "greenline:queue"}],
    }
    return {**doc, **over}


def test_a_pull_request_and_its_labels() -> None:
    found = read_pull(pull())
    assert found is not None
    assert (found.number, found.change_id, found.head_sha, found.base_ref) == (7, "#7", SHA, "main")
    assert found.labels == ("bug", "greenline:queue") and found.is_queued_by_label
    assert found.open and not found.merged
    merged = read_pull(pull(state="closed", merged=None, merged_at="2026-12-01T10:00:00Z"))
    assert merged is not None and merged.merged and not merged.open


@pytest.mark.parametrize(
    "doc",
    [pull(number="7"), pull(number=True), pull(head={"sha": "abc"}), pull(labels="x"), [], None],
)
def test_a_malformed_pull_request_reads_as_none_or_without_what_is_broken(doc: Any) -> None:
    found = read_pull(doc)
    assert found is None or found.labels == ()


def test_pull_request_events() -> None:
    event = read_pull_event(
        {"action": "labeled", "label": {"name": "greenline:queue"}, "pull_request": pull()}
    )
    assert event is not None and (event.action, event.label) == ("labeled", "greenline:queue")
    assert read_pull_event({"action": "opened"}) is None


def suite(conclusion: str | None, **over: Any) -> dict[str, Any]:
    item = {
        "id": 42,
        "head_branch": "greenline/queue/r3",
        "head_sha": SHA,
        "status": "completed",
        "conclusion": conclusion,
        "app": {"slug": "github-actions", "name": "GitHub Actions"},
    }
    return {"action": "completed", "check_suite": {**item, **over}}


def test_ci_verdicts_from_check_suites_and_workflow_runs() -> None:
    assert read_ci_result("check_suite", suite("success")) == CiResult(
        "greenline/queue/r3", SHA, True, "GitHub Actions", "success", "check_suite 42"
    )
    failed = read_ci_result("check_suite", suite("timed_out"))
    assert failed is not None and not failed.passed
    run = {
        "id": 9,
        "name": "CI",
        "head_branch": "greenline/queue/r4",
        "head_sha": SHA,
        "conclusion": "failure",
        "html_url": "https://github.com/o/r/actions/runs/9",
    }
    result = read_ci_result("workflow_run", {"action": "completed", "workflow_run": run})
    assert result is not None and (result.name, result.passed, result.ident) == (
        "CI",
        False,
        "workflow_run 9",
    )
    assert result.url == run["html_url"]


@pytest.mark.parametrize("conclusion", ["cancelled", "skipped", "neutral", "stale", None])
def test_conclusions_that_say_nothing_about_the_tree_are_no_verdict(
    conclusion: str | None,
) -> None:
    assert read_ci_result("check_suite", suite(conclusion)) is None


def test_what_is_no_ci_result() -> None:
    assert read_ci_result("check_run", suite("success")) is None
    assert read_ci_result("check_suite", {**suite("success"), "action": "requested"}) is None
    assert read_ci_result("check_suite", suite("success", head_sha="HEAD")) is None
    assert read_ci_result("check_suite", suite("success", head_branch=None)) is None


def test_pushes() -> None:
    moved = {"ref": "refs/heads/main", "before": OTHER, "after": SHA}
    assert read_push(moved) == BranchMoved("main", OTHER, SHA)
    deleted = {"ref": "refs/heads/x", "before": SHA, "after": "0" * 40}
    assert read_push(deleted) == BranchMoved("x", SHA, None)
    assert read_push({"ref": "refs/tags/v1", "after": SHA}) is None


def test_queue_branches_and_change_ids() -> None:
    assert queue_branch("r12") == "greenline/queue/r12"
    assert run_of_branch("greenline/queue/r12") == "r12"
    assert run_of_branch("refs/heads/greenline/queue/r12") == "r12"
    for other in ("main", "greenline/queue/", "greenline/queue/a/b", "greenline/queuer1"):
        assert run_of_branch(other) is None
    assert number_of("#12") == 12
    assert number_of("feature") is None and number_of("#x") is None
