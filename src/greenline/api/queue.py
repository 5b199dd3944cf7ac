"""The merge queue for interfaces: the simulator (pure, no repository needed) and the local git
mode (the queue's state in the store, trees in git worktrees, checks as local processes)."""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from greenline import vcs
from greenline.errors import InputError, NoDataError, StoreError, UsageError, VcsError
from greenline.executor import Background, is_process_alive
from greenline.junit import JUnitReader
from greenline.mergequeue.codec import dump_entry, dump_state, load_entry, load_state
from greenline.mergequeue.engine import initial_state, step
from greenline.mergequeue.simulate import Scenario, load_arrival_rate, simulate
from greenline.model import Outcome
from greenline.model.queue import (
    Action,
    Added,
    CancelRun,
    Eject,
    Event,
    FlakyTestsKnown,
    Land,
    MainMoved,
    Paused,
    Purpose,
    QueueConfig,
    QueueEntry,
    QueueState,
    Removed,
    ReportFlaky,
    Restarted,
    Resumed,
    RunFinished,
    StartRun,
    Strategy,
)
from greenline.store import reads, writes

if TYPE_CHECKING:
    from greenline.store import Store

T = TypeVar("T")
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.ERROR)

SIMULATION_SCHEMA = "greenline.queue-simulation/1"
STATUS_SCHEMA = "greenline.queue-status/1"
DEFAULT_LOAD = 0.7


def simulate_queue(
    *,
    changes: int,
    fail_rate: float,
    conflict_rate: float,
    flake_rate: float,
    ci_minutes: float,
    runners: int,
    arrival_rate: float | None,
    strategies: list[Strategy],
    seed: int,
) -> dict[str, Any]:
    """Simulate the queue under each strategy with the same changes; ``arrival_rate`` (changes
    per hour) defaults to 70% of what the runners can take."""
    for flag, value in (
        ("--fail-rate", fail_rate),
        ("--conflict-rate", conflict_rate),
        ("--flake-rate", flake_rate),
    ):
        if not 0 <= value < 1:
            raise UsageError(f"{flag} {value}: a probability from 0 up to 1", hint=f"{flag} 0.3")
    for flag, number in (("--changes", changes), ("--runners", runners)):
        if number < 1:
            raise UsageError(f"{flag} {number}: at least 1", hint=f"{flag} 16")
    if ci_minutes <= 0:
        raise UsageError(f"--ci-minutes {ci_minutes}: must be positive", hint="--ci-minutes 30")
    if arrival_rate is not None and arrival_rate <= 0:
        raise UsageError(
            f"--arrival-rate {arrival_rate}: changes per hour, must be positive",
            hint="leave it out for 70% of what the runners can take",
        )
    rate = arrival_rate or load_arrival_rate(DEFAULT_LOAD, runners, fail_rate, ci_minutes)
    results = []
    for strategy in strategies:
        scenario = Scenario(
            changes=changes,
            fail_rate=fail_rate,
            conflict_rate=conflict_rate,
            flake_rate=flake_rate,
            ci_minutes=ci_minutes,
            runners=runners,
            arrival_rate=rate,
            strategy=strategy,
            seed=seed,
        )
        results.append(simulate(scenario).summary())
    return {
        "schema": SIMULATION_SCHEMA,
        "scenario": {
            "changes": changes,
            "fail_rate": fail_rate,
            "conflict_rate": conflict_rate,
            "flake_rate": flake_rate,
            "ci_minutes": ci_minutes,
            "runners": runners,
            "arrival_per_hour": round(rate, 3),
            "seed": seed,
        },
        "strategies": results,
    }


# -- local git mode ---------------------------------------------------------------------------
JOURNAL = 200  # decisions kept for ``queue status``
TREE_SEP = "\x1f"
POLL_S = 0.2


@dataclass
class _Doc:
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
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _Doc:
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
        )


class QueueApi:
    """Mixed into Greenline: the merge queue on a local git repository."""

    store: Store
    repository: str
    root: Path

    # -- the document ------------------------------------------------------------------------
    def _read_queue(self) -> tuple[int, _Doc | None]:
        with self.store.read() as conn:
            found = reads.merge_queue(conn, self.repository)
        if found is None:
            return 0, None
        return found[0], _Doc.from_json(found[1])

    def _change_queue(self, change: Callable[[_Doc], T], create: bool = False) -> T:
        """Apply ``change`` to the stored document; redone on a concurrent update."""
        for _ in range(50):
            version, doc = self._read_queue()
            if doc is None:
                if not create:
                    raise NoDataError("the merge queue is empty", hint="greenline queue add BRANCH")
                branch = vcs.default_branch(self.root)
                base = vcs.resolve_revision(self.root, branch)
                doc = _Doc(branch, base, initial_state(QueueConfig(), base))
            result = change(doc)
            with self.store.write() as conn:
                repo_id = writes.ensure_repository(conn, self.repository, str(self.root))
                if writes.save_merge_queue(conn, repo_id, doc.to_json(), version, _now()):
                    return result
        raise StoreError("the merge queue is being changed too often to update", hint="retry")

    def _step(self, doc: _Doc, events: list[Event]) -> list[Action]:
        before = doc.state
        doc.state, actions = step(doc.state, events, time.time())
        for action in actions:
            if isinstance(action, Land):
                sha = doc.commits[action.run_id]
                # the entries go with the landing until the branch has moved: should it have
                # moved elsewhere meanwhile, they are queued again, not lost
                entries = [dump_entry(e) for c in action.changes if (e := before.entry(c))]
                doc.pending.append(
                    {"run_id": action.run_id, "sha": sha, "old": doc.main, "entries": entries}
                )
                doc.main = sha
                _log(doc, "landed", action.changes, f"tested as {sha[:10]}", action.run_id, sha)
            elif isinstance(action, Eject):
                _log(doc, "ejected", (action.change_id,), action.reason, action.run_id)
            elif isinstance(action, ReportFlaky):
                _log(doc, "flaky", (), ", ".join(action.tests), action.run_id)
        return actions

    # -- commands ------------------------------------------------------------------------------
    def queue_add(self, branch: str, priority: int = 0) -> QueueEntry:
        """Queue ``branch`` at its current head (again with a new head: the old one leaves)."""
        head = vcs.resolve_revision(self.root, f"refs/heads/{branch}")

        def change(doc: _Doc) -> QueueEntry:
            if branch == doc.branch:
                raise UsageError(
                    f"{branch} is the branch the queue lands on",
                    hint="queue a feature branch: greenline queue add my-feature",
                )
            files = frozenset(vcs.changed_files(self.root, doc.main, head))
            entry = QueueEntry(branch, head, time.time(), priority, files)
            old = doc.state.entry(branch)
            events: list[Event] = []
            if old is not None and old.head != head:
                events.append(Removed(branch, f"replaced by its new head {head[:10]}"))
                doc.trees = {k: v for k, v in doc.trees.items() if branch not in k.split(TREE_SEP)}
            events.append(Added(entry))
            self._step(doc, events)
            return entry

        return self._change_queue(change, create=True)

    def queue_remove(self, branch: str) -> None:
        def change(doc: _Doc) -> None:
            if doc.state.entry(branch) is None:
                raise UsageError(f"{branch} is not queued", hint="greenline queue status")
            self._step(doc, [Removed(branch)])
            _log(doc, "removed", (branch,), "removed by hand", None)

        self._change_queue(change)

    def queue_pause(self, paused: bool = True) -> None:
        self._change_queue(lambda doc: self._step(doc, [Paused() if paused else Resumed()]))

    def queue_status(self) -> dict[str, Any]:
        _, doc = self._read_queue()
        if doc is None:
            return {"schema": STATUS_SCHEMA, "branch": None, "entries": [], "journal": []}
        active = _runner_alive(doc.runner)
        running = {r.changes[-1]: r for r in doc.state.runs if r.purpose is Purpose.PRECHECK}
        gate_runs = [r for r in doc.state.runs if r.purpose is Purpose.GATE]
        return {
            "schema": STATUS_SCHEMA,
            "branch": doc.branch,
            "main": doc.main,
            "paused": doc.state.paused,
            "runner": doc.runner if active else None,
            "window": doc.state.window,
            "entries": [
                {
                    "branch": e.change_id,
                    "head": e.head,
                    "priority": e.priority,
                    "stage": e.stage.value,
                    "runs": [
                        r.run_id
                        for r in [running.get(e.change_id), *gate_runs]
                        if active
                        and r is not None
                        and e.change_id in r.changes
                        and r.passed is None
                    ],
                }
                for e in doc.state.entries
            ],
            "journal": doc.journal[-20:],
        }

    def queue_run(
        self,
        check: str,
        *,
        runners: int = 2,
        until_empty: bool = True,
        on_decision: Callable[[dict[str, Any]], None] | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, int]:
        """Run the queue until it is empty (or forever): build each tree, run ``check`` on it
        (at most ``runners`` at once), land what passed by fast-forward, eject what failed."""
        if runners < 1:
            raise UsageError(f"--runners {runners}: at least 1", hint="--runners 2")
        workdir = self.root / ".greenline" / "queue"
        runner = _Runner(self.root, workdir, check, timeout_s)
        _, before = self._read_queue()
        seen = len(before.journal) if before else 0
        flaky = self._known_flaky()

        def begin(doc: _Doc) -> list[Action]:
            if doc.runner is not None and _runner_alive(doc.runner):
                raise UsageError(
                    f"the queue is already running (pid {doc.runner['pid']}, since "
                    f"{doc.runner['since']})",
                    hint="one runner per queue: stop that one first, or watch it with "
                    "greenline queue status",
                )
            doc.runner = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": _now().isoformat(),
            }
            doc.state = replace(doc.state, config=replace(doc.state.config, runners=runners))
            actual = vcs.resolve_revision(self.root, f"refs/heads/{doc.branch}")
            events: list[Event] = [Restarted(), FlakyTestsKnown(flaky)]  # earlier runs are gone
            if not doc.pending and actual != doc.main:
                doc.main = actual
                events.append(MainMoved(actual))
            return self._step(doc, events)

        actions = self._change_queue(begin)
        counts = {"landed": 0, "ejected": 0}
        try:
            while True:
                self._finish_landings()
                events = runner.perform(actions, functools.partial(_Trees, self))
                events += runner.collect()
                actions = []
                if events:
                    actions = self._change_queue(functools.partial(self._apply, events))
                _, doc = self._read_queue()
                if doc is not None:
                    seen = self._announce(doc, seen, counts, on_decision)
                if doc is None or (
                    until_empty and not doc.state.entries and not doc.pending and not runner.busy
                ):
                    break
                if not events and not actions:
                    time.sleep(POLL_S)
        finally:
            runner.stop()
            self._change_queue(_stop_running)
        return counts

    def _known_flaky(self) -> frozenset[str]:
        """The tests the flaky capability calls flaky: failures only there are re-run."""
        try:
            verdicts = self.flaky_tests()  # type: ignore[attr-defined]
        except NoDataError:
            return frozenset()
        return frozenset(v.test_id for v in verdicts)

    def _apply(self, events: list[Event], doc: _Doc) -> list[Action]:
        return self._step(doc, events)

    def _record_trees(
        self, run_id: str, sha: str | None, built: list[tuple[tuple[str, ...], str]]
    ) -> None:
        def change(doc: _Doc) -> None:
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

        self._change_queue(change)

    def _finish_landings(self) -> None:
        """Fast-forward the branch for every landing the document records as pending (again
        after a crash: a landing already done is recognised)."""
        _, doc = self._read_queue()
        if doc is None or not doc.pending:
            return
        for landing in list(doc.pending):
            current = vcs.resolve_revision(self.root, f"refs/heads/{doc.branch}")
            if current != landing["sha"] and not vcs.fast_forward(
                self.root, doc.branch, landing["sha"], landing["old"]
            ):
                if current == landing["old"]:
                    raise VcsError(
                        f"cannot fast-forward {doc.branch} to {landing['sha'][:10]}: the "
                        "checkout has local changes in the way",
                        hint=f"commit or stash them, then run greenline queue run again "
                        f"(the landing of {', '.join(e['change_id'] for e in landing['entries'])}"
                        " is kept)",
                    )
                self._change_queue(functools.partial(self._main_moved, current))
                return

            def done(d: _Doc, sha: str = landing["sha"]) -> None:
                d.pending = [p for p in d.pending if p["sha"] != sha]

            self._change_queue(done)

    def _main_moved(self, moved: str, doc: _Doc) -> None:
        """The branch moved by someone else's hand: landings not done yet are queued again
        (their trees are stale), and every tree restarts on the new commit."""
        requeue = [load_entry(e) for p in doc.pending for e in p["entries"]]
        doc.pending.clear()
        doc.main = moved
        self._step(doc, [MainMoved(moved), *(Added(e) for e in requeue)])
        _log(doc, "main-moved", (), f"{doc.branch} moved to {moved[:10]} by someone else", None)
        if requeue:
            names = tuple(e.change_id for e in requeue)
            _log(doc, "requeued", names, "their landing found the branch moved", None)

    @staticmethod
    def _announce(
        doc: _Doc,
        seen: int,
        counts: dict[str, int],
        on_decision: Callable[[dict[str, Any]], None] | None,
    ) -> int:
        fresh = doc.journal[seen:] if seen <= len(doc.journal) else doc.journal
        for item in fresh:
            if item["kind"] in counts:
                counts[item["kind"]] += len(item["changes"])
            if on_decision:
                on_decision(item)
        return len(doc.journal)


class _Trees:
    """Where a run's tree starts (the longest tree already built that it extends) and where
    the commits it builds are kept: the document is read once per batch of starts, and the
    trees each start builds are added to it for the next one."""

    def __init__(self, api: QueueApi) -> None:
        self.api = api
        _, doc = api._read_queue()
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
        self.api._record_trees(run_id, sha, built)


class _Runner:
    """Builds trees in git worktrees and runs the check on them as background processes."""

    def __init__(self, root: Path, workdir: Path, check: str, timeout_s: float | None) -> None:
        self.root, self.workdir, self.check, self.timeout_s = root, workdir, check, timeout_s
        self.procs: dict[str, tuple[Background, Path, float]] = {}

    @property
    def busy(self) -> bool:
        return bool(self.procs)

    def perform(self, actions: list[Action], open_trees: Callable[[], _Trees]) -> list[Event]:
        events: list[Event] = []
        trees: _Trees | None = None  # read only when a tree is to be built
        for action in actions:
            if isinstance(action, StartRun):
                trees = trees or open_trees()
                events += self.start(action, trees)
            elif isinstance(action, CancelRun):
                self.cancel(action.run_id)
        return events

    def start(self, action: StartRun, trees: _Trees) -> list[Event]:
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
        sha = vcs.resolve_revision(path, "HEAD")
        trees.record(run.run_id, sha, built)
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
        self.procs[run.run_id] = (Background(self.check, path, log, env), path, time.time())
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
                    {r.test_id for r in JUnitReader(report) if r.outcome in FAILED_OUTCOMES}
                )
            except InputError:
                failed = []
            if failed:
                return tuple(failed)
        return (f"check exited {code} (log: {log})",)

    def cancel(self, run_id: str) -> None:
        found = self.procs.pop(run_id, None)
        if found:
            found[0].kill()
            vcs.remove_worktree(self.root, found[1])

    def collect(self) -> list[Event]:
        events: list[Event] = []
        for run_id, (proc, path, started) in list(self.procs.items()):
            code = proc.poll()
            if code is None and self.timeout_s and time.time() - started > self.timeout_s:
                proc.kill()
                code = -1
            if code is None:
                continue
            del self.procs[run_id]
            vcs.remove_worktree(self.root, path)
            failed = () if code == 0 else self.failed_tests(run_id, code, proc.log)
            events.append(RunFinished(run_id, code == 0, failed))
        return events

    def stop(self) -> None:
        for run_id in list(self.procs):
            self.cancel(run_id)


def _runner_alive(runner: dict[str, Any] | None) -> bool:
    """True while the recorded runner process still runs (on another host: assumed so)."""
    if not runner:
        return False
    if runner.get("host") != socket.gethostname():
        return True
    return is_process_alive(int(runner["pid"]))


def _stop_running(doc: _Doc) -> None:
    if doc.runner and doc.runner.get("pid") == os.getpid():
        doc.runner = None


def _log(
    doc: _Doc,
    kind: str,
    changes: tuple[str, ...],
    reason: str,
    run_id: str | None,
    commit: str | None = None,
) -> None:
    doc.journal.append(
        {
            "at": _now().isoformat(),
            "kind": kind,
            "changes": list(changes),
            "reason": reason,
            "run": run_id,
            "commit": commit,
        }
    )


def _now() -> datetime:
    return datetime.now(UTC)
