"""What a CI job asks of the team server, with its own checkout at hand: a selection plan
against the server's baseline (the change found here, as a diff against that baseline's
commit), and JUnit reports stored as a run of the job's commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenline import vcs
from greenline.errors import NoDataError, UsageError, VcsError
from greenline.junit import combine_reports
from greenline.model import SelectionPlan
from greenline.remote import ServerClient, plan_of
from greenline.tracing.environment import read_environment

#: a diff larger than this is sent as the paths it touches (the server then counts every block
#: its baseline ran in them as changed): requests stay small for a change of any size
DIFF_LIMIT = 8 << 20


def plan_on_server(
    client: ServerClient,
    root: Path,
    *,
    base: str | None = None,
    budget: str | None = None,
    confidence: str | None = None,
    with_unaffected: bool = True,
    retry_seconds: float | None = None,
) -> tuple[dict[str, Any], SelectionPlan]:
    """The server's selection document for the working tree's change, and the plan it holds.

    The change is judged against the server's newest complete run with coverage whose commit
    is HEAD or an ancestor of it here (or, with ``base``, the newest at that commit or before
    it). ``with_unaffected`` asks for the baseline's test ids too, so the plan can tell a test
    the baseline never saw (which always runs) from one the change cannot reach."""
    sha = _base_commit(client, root, base, retry_seconds)
    raw = vcs.read_diff(root, sha)
    diff = _text(raw) if len(raw) <= DIFF_LIMIT else None
    changed = None
    if diff is None:
        files = vcs.read_change(root, sha).files
        changed = sorted({f.path for f in files} | {f.old_path for f in files if f.old_path})
    doc = client.select(
        sha,
        diff=diff,
        changed_files=changed,
        budget=budget,
        confidence=confidence,
        environment=read_environment(),
        retry_seconds=retry_seconds,
    )
    known = None
    run_id = doc.get("baseline_run_id")
    if with_unaffected and doc.get("full_suite") is None and run_id is not None:
        known = client.run_test_ids(int(run_id), retry_seconds=retry_seconds)
    return doc, plan_of(doc, known)


def _base_commit(
    client: ServerClient, root: Path, base: str | None, retry_seconds: float | None
) -> str:
    if base:
        return vcs.resolve_revision(root, base)
    for _, sha in client.baseline_candidates(retry_seconds=retry_seconds):
        if vcs.is_ancestor(root, sha):
            return sha
    raise NoDataError(
        f"no baseline on the server at {client.display_url} for this history: none of its "
        "complete runs with coverage is at HEAD or one of its ancestors here",
        hint="record one on the base branch: pytest --greenline-record --greenline-server URL "
        "(or fetch more history: git fetch --deepen 50)",
    )


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # a file in another encoding: JSON cannot carry the diff
        return None


def upload_junit(
    client: ServerClient,
    root: Path,
    paths: list[Path],
    *,
    commit: str | None = None,
    branch: str | None = None,
) -> dict[str, Any]:
    """Store JUnit XML reports on the server as one complete run of ``commit`` (default: the
    checked-out one) on ``branch``; the server's run document. A ref is resolved here: the
    server's own HEAD is not the job's."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {missing[0]}", hint="pass paths to JUnit XML reports")
    here = vcs.read_commit(root) if vcs.find_root(root) else None
    sha = commit
    if commit is not None and here is not None:
        try:
            sha = vcs.resolve_revision(root, commit)
        except VcsError:
            sha = commit  # the server may know a commit this clone does not
    elif commit is None and here is not None:
        sha = here.sha
    doc: dict[str, Any] = client.upload_junit(
        combine_reports(paths), sha, branch or (here.branch if here else None)
    )
    return doc
