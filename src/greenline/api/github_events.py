"""What each GitHub event greenline uses does when its webhook is processed: a pull request
opened or updated, and a merge group whose checks are requested, get the selection check on
their head; a push to the default branch, and CI's results (check suites, check runs, workflow
runs), are noted. Each handler returns one line saying what it did, kept with the delivery.
Later capabilities (the merge queue on pull requests) replace or extend these handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from greenline.errors import GreenlineError
from greenline.forge.payloads import dig, dig_text
from greenline.model.forge import WebhookEvent

if TYPE_CHECKING:
    from greenline.api.github import GitHubService

Handler = Callable[["GitHubService", WebhookEvent], str]
#: pull request actions after which its head has new code to select tests for
PULL_UPDATES = ("opened", "synchronize", "reopened")


def on_pull_request(github: GitHubService, event: WebhookEvent) -> str:
    number = dig(event.payload, "pull_request", "number")
    what = f"pull request #{number}"
    if event.action not in PULL_UPDATES:
        return f"{what} {event.action}: nothing to do"
    sha = dig_text(event.payload, "pull_request", "head", "sha")
    done = github.publish_selection(event.repository, sha, what)
    base = dig_text(event.payload, "pull_request", "base", "sha")
    if isinstance(number, int) and base:
        try:
            done += "; " + github.publish_review(event.repository, number, sha, base)
        except GreenlineError as exc:  # the check stands; the digest says why it is missing
            done += f"; no review: {exc.message}"
    return done


def on_merge_group(github: GitHubService, event: WebhookEvent) -> str:
    what = f"merge group {dig_text(event.payload, 'merge_group', 'head_ref')}"
    if event.action != "checks_requested":
        return f"{what} {event.action}: nothing to do"
    sha = dig_text(event.payload, "merge_group", "head_sha")
    base = dig_text(event.payload, "merge_group", "base_sha") or None
    return github.publish_selection(event.repository, sha, what, group_base=base)


def on_push(github: GitHubService, event: WebhookEvent) -> str:
    ref = dig_text(event.payload, "ref")
    default = dig_text(event.payload, "repository", "default_branch")
    after = dig_text(event.payload, "after")
    if default and ref == f"refs/heads/{default}":
        return f"the default branch {default} is at {after[:12]}"
    return f"push to {ref}: nothing to do"


def on_ci_result(github: GitHubService, event: WebhookEvent) -> str:
    """``check_suite``, ``check_run``, ``workflow_run``: what finished where, noted."""
    item = dig(event.payload, event.event) or {}
    name = dig_text(item, "name") or dig_text(item, "app", "slug")
    sha = dig_text(item, "head_sha")
    conclusion = dig_text(item, "conclusion") or dig_text(item, "status")
    return f"{event.event} {event.action}: {name} {conclusion} on {sha[:12]}".replace("  ", " ")


HANDLERS: dict[str, Handler] = {
    "pull_request": on_pull_request,
    "merge_group": on_merge_group,
    "push": on_push,
    "check_suite": on_ci_result,
    "check_run": on_ci_result,
    "workflow_run": on_ci_result,
}
