"""The revert proposal: the culprit reverted on HEAD in a worktree, verified (the failing tests
pass there, the tests that ran the files it changes stay green), then kept as a branch of its
own. The user's branch and main never move."""

from __future__ import annotations

from collections.abc import Sequence

from greenline import vcs
from greenline.api.queue import QueueService
from greenline.api.recovery_probes import Prober
from greenline.api.workspace import Workspace
from greenline.errors import UsageError, VcsError
from greenline.model.recovery import ProbeResult, RevertReport
from greenline.store import reads

REVERT_RUNS = 3


def build_revert(
    ws: Workspace, queue: QueueService, sha: str, tests: Sequence[str], enqueue: bool
) -> RevertReport:
    root = ws.root
    head = vcs.resolve_revision(root, "HEAD")
    prober = Prober(ws, tests)
    if prober.probe(head) is ProbeResult.PASSED:
        raise UsageError(
            f"{sha[:10]} no longer breaks anything at HEAD: its failing tests pass there",
            hint="nothing to revert (a later commit fixed it)",
        )
    short = sha[:10]
    branch = f"greenline/revert-{short}"
    tree = ws.greenline_dir / "recovery" / f"revert-{short}"
    tree.parent.mkdir(parents=True, exist_ok=True)
    vcs.remove_worktree(root, tree)
    vcs.add_worktree(root, tree, head)
    try:
        reverted = vcs.revert_commit(tree, sha)
        if reverted is None:
            raise UsageError(
                f"{short} does not revert cleanly on HEAD {head[:10]}",
                hint="later commits changed the same lines: revert it by hand",
            )
        changed = vcs.changed_files(root, head, reverted)
    finally:
        vcs.remove_worktree(root, tree)
    passes, runs = prober.passes(reverted, REVERT_RUNS)
    if passes < REVERT_RUNS:
        raise UsageError(
            f"with {short} reverted the failing tests still fail ({passes} of {runs} runs passed)",
            hint="the culprit may be wrong: greenline culprit again with more --confidence",
        )
    checked = _tests_of(ws, changed, set(tests))
    if checked and Prober(ws, checked).probe(reverted) is not ProbeResult.PASSED:
        raise UsageError(
            f"reverting {short} breaks other tests ({len(checked)} checked)",
            hint="fix forward instead: greenline triage shows what fails",
        )
    if not vcs.create_branch(root, branch, reverted):
        raise VcsError(f"the branch {branch} exists already", hint=f"git branch -D {branch}")
    queued = False
    if enqueue:
        queue.add(branch)
        queued = True
    return RevertReport(sha, branch, reverted, tuple(tests), passes, tuple(checked), queued)


def _tests_of(ws: Workspace, changed: Sequence[str], skip: set[str]) -> list[str]:
    """The tests of the newest baseline that ran a file the revert changes."""
    with ws.store.read() as conn:
        runs = reads.latest_baselines(conn, ws.repository)
        if not runs:
            return []
        coverage = reads.run_coverage(conn, runs[0].id, set(changed))
    return sorted({tc.test_id for tc in coverage if tc.blocks} - skip)
