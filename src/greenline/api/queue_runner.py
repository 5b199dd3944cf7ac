"""The merge queue's local git mode underneath the service: its document in the store (the
engine's state and what the runner must know), the trees it builds in git worktrees, and the
checks it runs on them through the executor."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from greenline import vcs
from greenline.api.workspace import Workspace
from greenline.errors import InputError, NoDataError, StoreError, UsageError
from greenline.executor import Executor, Handle, is_process_alive, shell_job
from greenline.junit import JUnitReader
from greenline.mergequeue.codec import dump_entry, dump_state, load_state
from greenline.mergequeue.engine import initial_state, step
from greenline.model import Outcome
from greenline.model.queue import (
    Action,
    CancelRun,
    Eject,
    Event,
    Land,
    QueueConfig,
    QueueState,
    ReportFlaky,
    RunFinished,
    StartRun,
)
from greenline.store import reads, writes

T = TypeVar("T")
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.ERROR)
JOURNAL = 200  # decisions kept for ``queue status``
TREE_SEP = "\x1f"


@dataclass
class QueueDoc:
    """The queue's document in the store: the engine's state and what the runner must know."""

    branch: str
    main: str  # the branch's commit as the queue last left it
    state: QueueState
    commits: dict[str, str] = field(default_factory=dict)  # run id -> the commit it tests
    # trees built so far (their changes joined by TREE_SEP) -> commit: a longer tree is built on
    # a shorter one's commit, so landing it after the shorter one is a fast-forward
    trees: dict[str, str] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)  # landings not yet done
    journal: list[dict[str, Any]] = field(default_factory=list)
    runner: dict[str, Any] | None = None  # the process running the queue: pid, host, since
    #: run id -> the executor's name for its check's processes (reaped after a crash)
    checks: dict[str, str] = field(default_factory=dict)
    #: a queue of pull requests on a code host (``api.pr_queue``): which host, the pull
    #: requests' details, the branches pushed and what is left to do there; None: branches
    forge: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "branch": self.branch,
                "main": self.main,
                "state": dump_state(self.state),
                "commits": self.commits,
                "trees": self.trees,
                "pending": self.pending,
                "journal": self.journal[-JOURNAL:],
                "runner": self.runner,
                "checks": self.checks,
                **({"forge": self.forge} if self.forge is not None else {}),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> QueueDoc:
        doc = json.loads(text)
        return cls(
            doc["branch"],
            doc["main"],
            load_state(doc["state"]),
            doc["commits"],
            doc["trees"],
            doc["pending"],
            doc["journal"],
            doc.get("runner"),
            doc.get("checks", {}),
            doc.get("forge"),
        )

    def step(self, events: list[Event]) -> list[Action]:
        """Feed the engine; note its decisions in the journal and its landings as pending."""
        before = self.state
        self.state, actions = step(self.state, events, time.time())
        for action in actions:
            if isinstance(action, Land):
                sha = self.commits[action.run_id]
                # the entries go with the landing until the branch has moved: should it have
                # moved elsewhere meanwhile, they are queued again, not lost
                entries = [dump_entry(e) for c in action.changes if (e := before.entry(c))]
                self.pending.append(
                    {"run_id": action.run_id, "sha": sha, "old": self.main, "entries": entries}
                )
                self.main = sha
                self.log("landed", action.changes, f"tested as {sha[:10]}", action.run_id, sha)
            elif isinstance(action, Eject):
                self.log("ejected", (action.change_id,), action.reason, action.run_id)
            elif isinstance(action, ReportFlaky):
                self.log("flaky", (), ", ".join(action.tests), action.run_id)
        return actions

    def log(
        self,
        kind: str,
        changes: tuple[str, ...],
        reason: str,
        run_id: str | None,
        commit: str | None = None,
    ) -> None:
        self.journal.append(
            {
                "at": now().isoformat(),
                "kind": kind,
                "changes": list(changes),
                "reason": reason,
                "run": run_id,
                "commit": commit,
            }
        )


def claim_mode(doc: QueueDoc, pulls: bool) -> None:
    """A repository's queue lands branches or pull requests, one at a time: an idle queue
    takes whichever comes; a busy one refuses the other kind."""
    if (doc.forge is not None) == pulls:
        return
    if doc.state.entries or doc.pending:
        kind = "pull requests" if doc.forge is not None else "local branches"
        hint = (
            "greenline queue add --pr N (or label it greenline:queue)"
            if doc.forge is not None
            else "greenline queue add BRANCH, or wait until it is empty"
        )
        raise UsageError(f"this repository's merge queue is landing {kind} now", hint=hint)
    if not pulls:
        doc.forge = None


class QueueDocuments:
    """The stored document, read and changed under optimistic versions."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def read(self) -> tuple[int, QueueDoc | None]:
        with self.ws.store.read() as conn:
            found = reads.merge_queue(conn, self.ws.repository)
        if found is None:
            return 0, None
        return found[0], QueueDoc.from_json(found[1])

    def change(
        self,
        change: Callable[[QueueDoc], T],
        create: bool = False,
        new: Callable[[], QueueDoc] | None = None,
    ) -> T:
        """Apply ``change`` to the stored document; redone on a concurrent update. With
        ``create``, a queue that does not exist yet starts as ``new()`` makes it (default:
        landing on this checkout's default branch)."""
        root = self.ws.root
        for _ in range(50):
            version, doc = self.read()
            if doc is None:
                if not create:
                    raise NoDataError("the merge queue is empty", hint="greenline queue add BRANCH")
                if new is not None:
                    doc = new()
                else:
                    branch = vcs.default_branch(root)
                    base = vcs.resolve_revision(root, branch)
                    doc = QueueDoc(branch, base, initial_state(QueueConfig(), base))
            result = change(doc)
            with self.ws.store.write() as conn:
                repo_id = writes.ensure_repository(conn, self.ws.repository, str(root))
                if writes.save_merge_queue(conn, repo_id, doc.to_json(), version, now()):
                    return result
        raise StoreError("the merge queue is being changed too often to update", hint="retry")

    def record_trees(
        self, run_id: str, sha: str | None, built: list[tuple[tuple[str, ...], str]]
    ) -> None:
        def change(doc: QueueDoc) -> None:
            if sha is not None:
                doc.commits[run_id] = sha
            landed = doc.state.landed
            for changes, commit in built:
                doc.trees[TREE_SEP.join(changes)] = commit
            # trees that no longer start with what landed will not be built on again
            doc.trees = {
                k: v
                for k, v in doc.trees.items()
                if tuple(k.split(TREE_SEP)[: len(landed)]) == landed
            }

        self.change(change)

    def note_check(self, run_id: str, ident: str | None) -> None:
        """Remember (or, with None, forget) which processes run a check."""

        def change(doc: QueueDoc) -> None:
            if ident is None:
                doc.checks.pop(run_id, None)
            else:
                doc.checks[run_id] = ident

        self.change(change)


class TreeStarts:
    """Where a run's tree starts (the longest tree already built that it extends) and where
    the commits it builds are kept: the document is read once per batch of starts, and the
    trees each start builds are added to it for the next one."""

    def __init__(self, docs: QueueDocuments) -> None:
        self.docs = docs
        _, doc = docs.read()
        if doc is None:
            raise StoreError("the merge queue's state is gone", hint="greenline queue status")
        self.doc = doc

    def start_point(self, changes: tuple[str, ...]) -> tuple[str, int]:
        landed = self.doc.state.landed
        for n in range(len(changes), len(landed), -1):
            commit = self.doc.trees.get(TREE_SEP.join(changes[:n]))
            if commit is not None:
                return commit, n
        if changes[: len(landed)] == landed:
            return self.doc.main, len(landed)
        return self.doc.state.base, 0

    def head_of(self, change: str) -> str:
        """The commit the change was queued at (not wherever its branch is now)."""
        entry = self.doc.state.entry(change)
        if entry is None:
            raise StoreError(f"{change} left the queue while its tree was being built")
        return entry.head

    def record(
        self, run_id: str, sha: str | None, built: list[tuple[tuple[str, ...], str]]
    ) -> None:
        for changes, commit in built:
            self.doc.trees[TREE_SEP.join(changes)] = commit
        self.docs.record_trees(run_id, sha, built)


class CheckRunner:
    """Builds trees in git worktrees and runs the check on them through the executor."""

    def __init__(
        self, ws: Workspace, docs: QueueDocuments, check: str, timeout_s: float | None
    ) -> None:
        self.root, self.docs, self.check, self.timeout_s = ws.root, docs, check, timeout_s
        self.executor: Executor = ws.executor
        self.workdir = queue_dir(ws)
        self.procs: dict[str, tuple[Handle, Path, Path]] = {}  # run id -> check, tree, log

    @property
    def busy(self) -> bool:
        return bool(self.procs)

    def perform(self, actions: list[Action]) -> list[Event]:
        events: list[Event] = []
        trees: TreeStarts | None = None  # read only when a tree is to be built
        for action in actions:
            if isinstance(action, StartRun):
                trees = trees or TreeStarts(self.docs)
                events += self.start(action, trees)
            elif isinstance(action, CancelRun):
                self.cancel(action.run_id)
        return events

    def start(self, action: StartRun, trees: TreeStarts) -> list[Event]:
        run = action.run
        path = self.workdir / "trees" / run.run_id
        vcs.remove_worktree(self.root, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sha, done = trees.start_point(run.changes)
        vcs.add_worktree(self.root, path, sha)
        built: list[tuple[tuple[str, ...], str]] = []
        for i in range(done, len(run.changes)):
            change = run.changes[i]
            head = trees.head_of(change)
            merged = vcs.merge_commit(path, head, f"Merge {change} (greenline queue {run.run_id})")
            if merged is None:
                vcs.remove_worktree(self.root, path)
                trees.record(run.run_id, None, built)
                return [RunFinished(run.run_id, False, (f"merge conflict: {change}",))]
            built.append((run.changes[: i + 1], merged))
        trees.record(run.run_id, vcs.resolve_revision(path, "HEAD"), built)
        log = self.workdir / "logs" / f"{run.run_id}.log"
        self.junit(run.run_id).parent.mkdir(parents=True, exist_ok=True)
        self.junit(run.run_id).unlink(missing_ok=True)
        env = {
            "GREENLINE_QUEUE_RUN": run.run_id,
            "GREENLINE_QUEUE_CHANGES": " ".join(run.changes),
            "GREENLINE_QUEUE_JUNIT": str(self.junit(run.run_id)),
            # what the tree's newest changes touch: a check can run their tests first
            "GREENLINE_QUEUE_IMPACTED": "\n".join(action.tests_first),
        }
        job = shell_job(self.check, path, env, log, timeout=self.timeout_s or None)
        handle = self.executor.start(job)
        self.docs.note_check(run.run_id, handle.ident)
        self.procs[run.run_id] = (handle, path, log)
        return []

    def junit(self, run_id: str) -> Path:
        return self.workdir / "junit" / f"{run_id}.xml"

    def failed_tests(self, run_id: str, code: int, log: Path) -> tuple[str, ...]:
        """The tests that failed, from the JUnit XML the check wrote to $GREENLINE_QUEUE_JUNIT
        (so known-flaky ones can be told apart), else the exit status and where the log is."""
        report = self.junit(run_id)
        if report.exists():
            try:
                failed = sorted(
                    {
                        r.test_id
                        for r in JUnitReader(report, root=self.root)
                        if r.outcome in FAILED_OUTCOMES
                    }
                )
            except InputError:
                failed = []
            if failed:
                return tuple(failed)
        return (f"check exited {code} (log: {log})",)

    def cancel(self, run_id: str) -> None:
        found = self.procs.pop(run_id, None)
        if found:
            found[0].cancel()
            vcs.remove_worktree(self.root, found[1])
            self.docs.note_check(run_id, None)

    def collect(self) -> list[Event]:
        events: list[Event] = []
        for run_id, (handle, path, log) in list(self.procs.items()):
            result = handle.poll()
            if result is None:
                continue
            del self.procs[run_id]
            vcs.remove_worktree(self.root, path)
            self.docs.note_check(run_id, None)
            code = -1 if result.exit_code is None else result.exit_code  # None: timed out
            failed = () if code == 0 else self.failed_tests(run_id, code, log)
            events.append(RunFinished(run_id, code == 0, failed))
        return events

    def stop(self) -> None:
        for run_id in list(self.procs):
            self.cancel(run_id)


def queue_dir(ws: Workspace) -> Path:
    return ws.greenline_dir / "queue"


def clean_up_after(ws: Workspace, doc: QueueDoc) -> list[str]:
    """What a runner that died (``kill -9``) left: its checks' processes are killed and its
    tree worktrees removed. Returns what was cleaned, for the journal."""
    cleaned = []
    if doc.checks:
        killed = ws.executor.reap(doc.checks.values())
        if killed:
            cleaned.append(f"{killed} orphaned check(s) stopped")
        doc.checks = {}
    trees = queue_dir(ws) / "trees"
    stale = sorted(p for p in trees.iterdir() if p.is_dir()) if trees.is_dir() else []
    for path in stale:
        vcs.remove_worktree(ws.root, path)
        shutil.rmtree(path, ignore_errors=True)
    if stale:
        cleaned.append(f"{len(stale)} stale worktree(s) removed")
    return cleaned


def runner_alive(runner: dict[str, Any] | None) -> bool:
    """True while the recorded runner process still runs (on another host: assumed so)."""
    if not runner:
        return False
    if runner.get("host") != socket.gethostname():
        return True
    return is_process_alive(int(runner["pid"]))


def now() -> datetime:
    return datetime.now(UTC)
