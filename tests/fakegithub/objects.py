"""The fake's state in GitHub's REST shapes (the templates of ``tests/data/github/api``)."""

from __future__ import annotations

import zlib
from typing import Any

from tests.fakegithub.payloads import OMIT, render
from tests.fakegithub.state import (
    CheckRun,
    CheckSuite,
    Comment,
    Pull,
    Repository,
    State,
    Status,
)

FILE_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied"}


def number_of(text: str) -> int:
    """A stable id for a name (the same in every process)."""
    return zlib.crc32(text.encode()) % 10**8


def user(state: State, login: str, kind: str = "User") -> Any:
    number = number_of(login)
    return render(
        "api/user", api=state.url, login=login, id=number, node_id=f"U_{number}", type=kind
    )


def app(state: State, slug: str) -> Any:
    app_id = state.app_id if slug == state.app_slug else 15368
    return render(
        "api/app",
        api=state.url,
        id=app_id,
        slug=slug,
        node_id=f"A_{app_id}",
        name=slug.replace("-", " ").title(),
    )


def repository(state: State, repo: Repository) -> Any:
    owner = user(state, repo.owner, "Organization")
    return render(
        "api/repository",
        api=state.url,
        id=repo.id,
        node_id=f"R_{repo.id}",
        name=repo.name,
        full_name=repo.full_name,
        owner=owner,
        clone_url=str(repo.bare),
        pushed_at=repo.pushed_at,
        default_branch=repo.default_branch,
    )


def installation(state: State, repo: Repository) -> Any:
    return render(
        "api/installation",
        api=state.url,
        id=repo.installation_id,
        account=user(state, repo.owner, "Organization"),
        login=repo.owner,
        app_id=state.app_id,
        app_slug=state.app_slug,
        target_id=1,
    )


def _pulls_of(state: State, repo: Repository, sha: str) -> list[Any]:
    return [
        {
            "url": f"{state.url}/repos/{repo.full_name}/pulls/{p.number}",
            "id": p.id,
            "number": p.number,
            "head": {"ref": p.head_ref, "sha": p.head_sha},
            "base": {"ref": p.base_ref, "sha": repo.resolve(f"refs/heads/{p.base_ref}")},
        }
        for p in repo.pulls.values()
        if p.head_sha == sha and p.closed_at is None
    ]


def check_run(state: State, repo: Repository, run: CheckRun) -> Any:
    return render(
        "api/check-run",
        api=state.url,
        full_name=repo.full_name,
        id=run.id,
        node_id=f"CR_{run.id}",
        head_sha=run.head_sha,
        external_id=run.external_id,
        details_url=run.details_url,
        status=run.status,
        conclusion=run.conclusion,
        started_at=run.started_at,
        completed_at=run.completed_at,
        title=run.title,
        summary=run.summary,
        text=run.text,
        annotations_count=len(run.annotations),
        name=run.name,
        suite_id=run.suite_id,
        app=app(state, run.app_slug),
        pull_requests=_pulls_of(state, repo, run.head_sha),
    )


def suite_outcome(repo: Repository, suite: CheckSuite) -> tuple[str, str | None]:
    """A suite's status and conclusion: as reported, or from its check runs."""
    if suite.status is not None:
        return suite.status, suite.conclusion
    runs = [r for r in repo.check_runs.values() if r.suite_id == suite.id]
    if not runs or any(r.status != "completed" for r in runs):
        return ("queued" if not runs else "in_progress"), None
    order = [
        "failure",
        "timed_out",
        "cancelled",
        "action_required",
        "neutral",
        "skipped",
        "success",
    ]
    return "completed", min((r.conclusion or "neutral" for r in runs), key=order.index)


def check_suite(state: State, repo: Repository, suite: CheckSuite) -> Any:
    status, conclusion = suite_outcome(repo, suite)
    runs = [r for r in repo.check_runs.values() if r.suite_id == suite.id]
    return render(
        "api/check-suite",
        api=state.url,
        full_name=repo.full_name,
        id=suite.id,
        node_id=f"CS_{suite.id}",
        head_branch=suite.head_branch,
        head_sha=suite.head_sha,
        status=status,
        conclusion=conclusion,
        before="0" * 40,
        pull_requests=_pulls_of(state, repo, suite.head_sha),
        app=app(state, suite.app_slug),
        created_at=suite.created_at,
        updated_at=suite.created_at,
        latest_check_runs_count=len(runs),
        head_commit=commit(repo, suite.head_sha),
    )


def commit(repo: Repository, sha: str) -> Any:
    raw = repo.git("show", "-s", "--format=%T%x00%B%x00%cI%x00%an%x00%ae", sha, check=False)
    if not raw:
        return None
    tree, message, when, name, email = raw.split("\x00")[:5]
    person = {"name": name, "email": email}
    return {
        "id": sha,
        "tree_id": tree,
        "message": message.strip(),
        "timestamp": when,
        "author": person,
        "committer": person,
    }


def labels(state: State, repo: Repository, names: list[str]) -> list[Any]:
    return [
        render(
            "api/label",
            api=state.url,
            full_name=repo.full_name,
            id=repo.labels[n],
            node_id=f"LA_{repo.labels[n]}",
            name=n,
        )
        for n in names
    ]


def pull(state: State, repo: Repository, p: Pull) -> Any:
    repo.refresh_merged(p)
    head = repo.head_of(p)
    base = repo.resolve(f"refs/heads/{p.base_ref}") or ""
    files = pull_files(state, repo, p)
    commits = repo.git("rev-list", "--count", f"{base}..{head}", check=False) if base else "0"
    return render(
        "api/pull-request",
        api=state.url,
        full_name=repo.full_name,
        number=p.number,
        id=p.id,
        node_id=f"PR_{p.id}",
        state="closed" if p.closed_at else "open",
        title=p.title,
        user=user(state, p.user),
        body=p.body,
        labels=labels(state, repo, p.labels),
        created_at=p.created_at,
        updated_at=p.updated_at,
        closed_at=p.closed_at,
        merged_at=p.merged_at,
        merge_commit_sha=head if p.merged_at else None,
        owner_login=repo.owner,
        owner=user(state, repo.owner, "Organization"),
        head_ref=p.head_ref,
        head_sha=head,
        base_ref=p.base_ref,
        base_sha=base,
        repository=repository(state, repo),
        merged=p.merged_at is not None,
        mergeable=None if p.merged_at else True,
        mergeable_state="unknown" if p.merged_at else "clean",
        comments=sum(1 for c in repo.comments.values() if c.number == p.number),
        commits=int(commits or 0),
        additions=sum(f["additions"] for f in files),
        deletions=sum(f["deletions"] for f in files),
        changed_files=len(files),
    )


def pull_files(state: State, repo: Repository, p: Pull) -> list[Any]:
    """The files a pull request changes: its head against the merge base with its base."""
    head = repo.head_of(p)
    base = repo.resolve(f"refs/heads/{p.base_ref}") or head
    start = repo.git("merge-base", base, head, check=False) or head
    counts = {}
    for line in repo.git("diff", "--numstat", "-M", start, head).splitlines():
        added, deleted, path = line.split("\t", 2)
        counts[path.split("\t")[-1]] = (
            int(added or 0) if added != "-" else 0,
            int(deleted or 0) if deleted != "-" else 0,
        )
    files = []
    for line in repo.git("diff", "--name-status", "-M", start, head).splitlines():
        letter, *paths = line.split("\t")
        path = paths[-1]
        added, deleted = counts.get(path, (0, 0))
        patch = repo.git("diff", start, head, "--", *paths)
        files.append(
            render(
                "api/pull-request-file",
                api=state.url,
                full_name=repo.full_name,
                head_sha=head,
                sha=repo.git("rev-parse", f"{head}:{path}", check=False) or "0" * 40,
                filename=path,
                status=FILE_STATUS.get(letter[0], "changed"),
                additions=added,
                deletions=deleted,
                changes=added + deleted,
                patch="@@" + patch.split("\n@@", 1)[1] if "\n@@" in patch else OMIT,
                previous_filename=paths[0] if letter.startswith("R") else OMIT,
            )
        )
    return files


def comment(state: State, repo: Repository, c: Comment) -> Any:
    return render(
        "api/issue-comment",
        api=state.url,
        full_name=repo.full_name,
        id=c.id,
        node_id=f"IC_{c.id}",
        number=c.number,
        body=c.body,
        user=user(state, c.login, "Bot" if c.login.endswith("[bot]") else "User"),
        created_at=c.created_at,
        updated_at=c.updated_at,
        app=app(state, c.app_slug) if c.app_slug else None,
    )


def git_ref(state: State, repo: Repository, ref: str, sha: str) -> Any:
    return render(
        "api/git-ref",
        api=state.url,
        full_name=repo.full_name,
        ref=ref,
        node_id=f"REF_{number_of(ref)}",
        sha=sha,
    )


def status(state: State, repo: Repository, s: Status) -> Any:
    return render(
        "api/status",
        api=state.url,
        full_name=repo.full_name,
        sha=s.sha,
        id=s.id,
        node_id=f"SC_{s.id}",
        state=s.state,
        description=s.description,
        target_url=s.target_url,
        context=s.context,
        created_at=s.created_at,
        creator=user(state, "octocat"),
    )


def combined_status(state: State, repo: Repository, sha: str) -> Any:
    latest: dict[str, Status] = {}
    for s in repo.statuses:
        if s.sha == sha:
            latest[s.context] = s  # the newest status of each context counts
    states = {s.state for s in latest.values()}
    overall = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if "pending" in states or not states
        else "success"
    )
    return render(
        "api/combined-status",
        api=state.url,
        full_name=repo.full_name,
        state=overall,
        statuses=[status(state, repo, s) for s in latest.values()],
        sha=sha,
        total_count=len(latest),
        repository=repository(state, repo),
    )


def error(message: str, status_code: int) -> Any:
    return render("api/error", message=message, status=str(status_code))
