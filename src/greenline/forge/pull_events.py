"""GitHub's webhook payloads, and the REST API's pull requests, in the merge queue's values: a
pull request changed (``pull_request``), CI finished on a commit (``check_suite`` and
``workflow_run`` completed), a branch moved (``push``). Anything malformed or beside the point
reads as None: a webhook greenline cannot use is acknowledged and ignored, never an error."""

from __future__ import annotations

from typing import Any

from greenline.ids import is_object_id
from greenline.model.pulls import BranchMoved, CiResult, PullEvent, PullRequest

#: CI conclusions that are a verdict on the tree; others (cancelled, skipped, neutral, stale)
#: say nothing about it, and the queue waits for one that does
PASSED = frozenset({"success"})
FAILED = frozenset({"failure", "timed_out", "startup_failure", "action_required"})
ZERO = "0" * 40


def _get(payload: Any, *path: str) -> Any:
    for key in path:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def _text(payload: Any, *path: str) -> str:
    value = _get(payload, *path)
    return value if isinstance(value, str) else ""


def read_pull(doc: Any) -> PullRequest | None:
    """A pull request object (REST ``GET /pulls/N``, or a webhook's ``pull_request``)."""
    number = _get(doc, "number")
    sha = _text(doc, "head", "sha")
    if not isinstance(number, int) or isinstance(number, bool) or not is_object_id(sha):
        return None
    labels = _get(doc, "labels")
    names = tuple(
        name
        for label in (labels if isinstance(labels, list) else [])
        if isinstance(name := _get(label, "name"), str)
    )
    return PullRequest(
        number=number,
        title=_text(doc, "title"),
        head_sha=sha,
        head_ref=_text(doc, "head", "ref"),
        base_ref=_text(doc, "base", "ref"),
        labels=names,
        open=_text(doc, "state") != "closed",
        merged=_get(doc, "merged") is True or bool(_text(doc, "merged_at")),
    )


def read_pull_event(payload: Any) -> PullEvent | None:
    pull = read_pull(_get(payload, "pull_request"))
    action = _text(payload, "action")
    if pull is None or not action:
        return None
    label = _text(payload, "label", "name") or None
    return PullEvent(action, pull, label)


def read_ci_result(event: str, payload: Any) -> CiResult | None:
    """A completed ``check_suite`` or ``workflow_run`` with a verdict, else None."""
    if event not in ("check_suite", "workflow_run") or _text(payload, "action") != "completed":
        return None
    item = _get(payload, event)
    sha, branch = _text(item, "head_sha"), _text(item, "head_branch")
    conclusion = _text(item, "conclusion")
    if not is_object_id(sha) or not branch or conclusion not in PASSED | FAILED:
        return None
    if event == "workflow_run":
        name = _text(item, "name") or _text(item, "path") or "workflow"
        ident = f"workflow_run {_get(item, 'id')}"
        url = _text(item, "html_url") or None
    else:
        name = _text(item, "app", "name") or _text(item, "app", "slug") or "check suite"
        ident = f"check_suite {_get(item, 'id')}"
        url = None
    return CiResult(branch, sha, conclusion in PASSED, name, conclusion, ident, url)


def read_push(payload: Any) -> BranchMoved | None:
    ref = _text(payload, "ref")
    if not ref.startswith("refs/heads/"):
        return None
    before, after = _text(payload, "before"), _text(payload, "after")
    return BranchMoved(
        ref.removeprefix("refs/heads/"),
        before if is_object_id(before) and before != ZERO else None,
        after if is_object_id(after) and after != ZERO else None,
    )


def repository_of(payload: Any) -> str:
    return _text(payload, "repository", "full_name")
