"""GitHub's webhook payloads, and the REST API's pull requests, in the merge queue's values: a
pull request changed (``pull_request``), CI finished on a commit (``check_suite`` and
``workflow_run`` completed), a branch moved (``push``). Anything malformed or beside the point
reads as None: a webhook greenline cannot use is acknowledged and ignored, never an error."""

from __future__ import annotations

from typing import Any

from greenline.forge.payloads import dig, dig_text
from greenline.ids import is_object_id
from greenline.model.pulls import BranchMoved, CiResult, PullEvent, PullRequest

#: CI conclusions that are a verdict on the tree; others (cancelled, skipped, neutral, stale)
#: say nothing about it, and the queue waits for one that does
PASSED = frozenset({"success"})
FAILED = frozenset({"failure", "timed_out", "startup_failure", "action_required"})
ZERO = "0" * 40


def read_pull(doc: Any) -> PullRequest | None:
    """A pull request object (REST ``GET /pulls/N``, or a webhook's ``pull_request``)."""
    number = dig(doc, "number")
    sha = dig_text(doc, "head", "sha")
    if not isinstance(number, int) or isinstance(number, bool) or not is_object_id(sha):
        return None
    labels = dig(doc, "labels")
    names = tuple(
        name
        for label in (labels if isinstance(labels, list) else [])
        if isinstance(name := dig(label, "name"), str)
    )
    return PullRequest(
        number=number,
        title=dig_text(doc, "title"),
        head_sha=sha,
        head_ref=dig_text(doc, "head", "ref"),
        base_ref=dig_text(doc, "base", "ref"),
        labels=names,
        open=dig_text(doc, "state") != "closed",
        merged=dig(doc, "merged") is True or bool(dig_text(doc, "merged_at")),
    )


def read_pull_event(payload: Any) -> PullEvent | None:
    pull = read_pull(dig(payload, "pull_request"))
    action = dig_text(payload, "action")
    if pull is None or not action:
        return None
    label = dig_text(payload, "label", "name") or None
    return PullEvent(action, pull, label)


def read_ci_result(event: str, payload: Any) -> CiResult | None:
    """A completed ``check_suite`` or ``workflow_run`` with a verdict, else None."""
    if event not in ("check_suite", "workflow_run") or dig_text(payload, "action") != "completed":
        return None
    item = dig(payload, event)
    sha, branch = dig_text(item, "head_sha"), dig_text(item, "head_branch")
    conclusion = dig_text(item, "conclusion")
    if not is_object_id(sha) or not branch or conclusion not in PASSED | FAILED:
        return None
    if event == "workflow_run":
        name = dig_text(item, "name") or dig_text(item, "path") or "workflow"
        ident = f"workflow_run {dig(item, 'id')}"
        url = dig_text(item, "html_url") or None
    else:
        name = dig_text(item, "app", "name") or dig_text(item, "app", "slug") or "check suite"
        ident = f"check_suite {dig(item, 'id')}"
        url = None
    return CiResult(branch, sha, conclusion in PASSED, name, conclusion, ident, url)


def read_push(payload: Any) -> BranchMoved | None:
    ref = dig_text(payload, "ref")
    if not ref.startswith("refs/heads/"):
        return None
    before, after = dig_text(payload, "before"), dig_text(payload, "after")
    return BranchMoved(
        ref.removeprefix("refs/heads/"),
        before if is_object_id(before) and before != ZERO else None,
        after if is_object_id(after) and after != ZERO else None,
    )


def repository_of(payload: Any) -> str:
    return dig_text(payload, "repository", "full_name")
