"""Webhook event bodies in GitHub's shapes (the templates of ``tests/data/github/webhooks``)
for what happens at the fake, and how GitHub signs a delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from tests.fakegithub import objects
from tests.fakegithub.payloads import OMIT, render
from tests.fakegithub.state import CheckRun, CheckSuite, Pull, Repository, State, stamp

ZERO = "0" * 40


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _common(state: State, repo: Repository) -> dict[str, Any]:
    return {
        "api": state.url,
        "full_name": repo.full_name,
        "owner_login": repo.owner,
        "repository": objects.repository(state, repo),
        "sender": objects.user(state, "octocat"),
        "installation_id": repo.installation_id,
        "installation_node_id": f"I_{repo.installation_id}",
    }


def pull_request_event(
    state: State,
    repo: Repository,
    pull: Pull,
    action: str,
    *,
    before: str | None = None,
    label: str | None = None,
) -> Any:
    """``pull_request`` (opened, synchronize with before and after, labeled, closed…)."""
    body = objects.pull(state, repo, pull)
    return render(
        "webhooks/pull_request",
        **_common(state, repo),
        action=action,
        number=pull.number,
        pull_request=body,
        before=before if action == "synchronize" else OMIT,
        after=body["head"]["sha"] if action == "synchronize" else OMIT,
        label=objects.labels(state, repo, [label])[0] if label else OMIT,
    )


def check_run_event(state: State, repo: Repository, run: CheckRun, action: str) -> Any:
    return render(
        "webhooks/check_run",
        **_common(state, repo),
        action=action,
        check_run=objects.check_run(state, repo, run),
    )


def check_suite_event(state: State, repo: Repository, suite: CheckSuite, action: str) -> Any:
    return render(
        "webhooks/check_suite",
        **_common(state, repo),
        action=action,
        check_suite=objects.check_suite(state, repo, suite),
    )


def workflow_run_event(
    state: State,
    repo: Repository,
    suite: CheckSuite,
    *,
    workflow: str,
    action: str = "completed",
    event: str = "push",
) -> Any:
    status, conclusion = objects.suite_outcome(repo, suite)
    return render(
        "webhooks/workflow_run",
        **_common(state, repo),
        action=action,
        run_id=suite.id + 500_000,
        workflow=workflow,
        workflow_file=workflow.lower().replace(" ", "-") + ".yml",
        head_branch=suite.head_branch,
        head_sha=suite.head_sha,
        display_title=(objects.commit(repo, suite.head_sha) or {}).get("message", ""),
        run_number=suite.id % 1000,
        event=event,
        status=status,
        conclusion=conclusion,
        check_suite_id=suite.id,
        pull_requests=objects.check_suite(state, repo, suite)["pull_requests"],
        created_at=suite.created_at,
        updated_at=stamp(),
        head_commit=objects.commit(repo, suite.head_sha),
    )


def merge_group_event(
    state: State,
    repo: Repository,
    *,
    head_sha: str,
    head_ref: str,
    base_sha: str,
    base_ref: str,
    action: str = "checks_requested",
    reason: str | None = None,
) -> Any:
    return render(
        "webhooks/merge_group",
        **_common(state, repo),
        action=action,
        head_sha=head_sha,
        head_ref=head_ref,
        base_sha=base_sha,
        base_ref=base_ref,
        head_commit=objects.commit(repo, head_sha),
        reason=reason if action == "destroyed" else OMIT,
    )


def push_event(
    state: State,
    repo: Repository,
    ref: str,
    before: str | None,
    after: str | None,
    forced: bool = False,
) -> Any:
    shas = []
    if after:
        span = f"{before}..{after}" if before else after
        shas = repo.git("rev-list", "--reverse", "--max-count=20", span, check=False).split()
    commits = [objects.commit(repo, sha) for sha in shas]
    return render(
        "webhooks/push",
        **_common(state, repo),
        ref=ref,
        before=before or ZERO,
        after=after or ZERO,
        before_short=(before or ZERO)[:12],
        after_short=(after or ZERO)[:12],
        created=before is None,
        deleted=after is None,
        forced=forced,
        commits=commits,
        head_commit=commits[-1] if commits else None,
        pusher="octocat",
    )


def moved_ref_events(
    state: State,
    repo: Repository,
    ref: str,
    before: str | None,
    after: str | None,
    forced: bool,
) -> list[tuple[str, Any]]:
    """What GitHub sends when a branch moves: ``push``, and ``synchronize`` for each open pull
    request whose head it is."""
    if not ref.startswith("refs/heads/"):
        return []
    events: list[tuple[str, Any]] = [("push", push_event(state, repo, ref, before, after, forced))]
    branch = ref.removeprefix("refs/heads/")
    for pull in repo.pulls.values():
        if pull.head_ref == branch and pull.closed_at is None and after is not None:
            events.append(
                (
                    "pull_request",
                    pull_request_event(state, repo, pull, "synchronize", before=before),
                )
            )
        if pull.base_ref == branch and pull.closed_at is None and after is not None:
            repo.refresh_merged(pull)
            if pull.merged_at is not None:
                events.append(("pull_request", pull_request_event(state, repo, pull, "closed")))
    return events
