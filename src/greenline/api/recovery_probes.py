"""Probes of a culprit search or a revert: the failing tests run at one commit, in a git
worktree of its own, through the workspace's executor."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from greenline import vcs
from greenline.api.flaky_trials import read_jsonl
from greenline.api.workspace import Workspace
from greenline.executor import OUT, pytest_job
from greenline.model import Outcome
from greenline.model.recovery import ProbeResult

#: a probe that takes longer than this is stopped and counts as untestable
PROBE_TIMEOUT = 900.0
FAILED = (Outcome.FAILED, Outcome.ERROR)


class Prober:
    """Runs the given tests at commits; safe to call from several threads."""

    def __init__(self, ws: Workspace, tests: Sequence[str], timeout: float = PROBE_TIMEOUT):
        self.ws = ws
        self.tests = list(tests)
        self.timeout = timeout
        self.runs = 0  # test executions, all probes together
        self.where = ws.greenline_dir / "recovery"
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._git_lock = threading.Lock()

    def probe(self, sha: str) -> ProbeResult:
        """FAILED when a test failed there; PASSED when all passed (a test that does not exist
        there cannot fail there); UNTESTABLE when the tests could not run at all."""
        with self._lock:
            path = self.where / f"probe-{next(self._numbers)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        # git's worktree bookkeeping is not safe against itself: one probe's prune while
        # another's add is half done breaks the add, so they take turns
        with self._git_lock:
            vcs.add_worktree(self.ws.root, path, sha)
        try:
            return self._run(path)
        finally:
            with self._git_lock:
                vcs.remove_worktree(self.ws.root, path)

    def passes(self, sha: str, times: int) -> tuple[int, int]:
        """(passes, runs) of the tests at ``sha`` in up to ``times`` runs (stops at a failure)."""
        done = 0
        for _ in range(times):
            result = self.probe(sha)
            if result is not ProbeResult.PASSED:
                return done, done + 1
            done += 1
        return done, done

    def _run(self, tree: Path) -> ProbeResult:
        present = [t for t in self.tests if exists_in(tree, t)]
        if not present:
            return ProbeResult.PASSED  # none of the failing tests exists at this commit
        argv = [f"--greenline-outcomes={OUT}/outcomes.jsonl", "-p", "no:randomly", *present]
        result = self.ws.executor.run(pytest_job(*argv, cwd=tree, timeout=self.timeout))
        rows = read_jsonl(result, "outcomes.jsonl")
        with self._lock:
            self.runs += len(rows)
        outcomes = {r["test_id"]: Outcome(r["outcome"]) for r in rows}
        if any(outcomes.get(t) in FAILED for t in present):
            return ProbeResult.FAILED
        if not outcomes and result.exit_code in (1, 2):
            return ProbeResult.FAILED  # their files no longer import: broken as surely
        if result.exit_code is None or not outcomes:
            return ProbeResult.UNTESTABLE  # timed out, or pytest itself could not start
        return ProbeResult.PASSED


def exists_in(tree: Path, test_id: str) -> bool:
    """Whether the test is defined in this checkout: its file exists and names its class and
    function (``def``/``class``); a test that is not there cannot fail there."""
    path, *names = test_id.split("::")
    file = tree / path
    if not file.is_file():
        return False
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for name in names:
        bare = name.split("[", 1)[0]
        if not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(bare)}\b", text, re.M):
            return False
    return True
