"""The merge queue: the simulator (pure, no repository needed) and the local git mode (the
queue's state in the store, trees in git worktrees, checks through the executor)."""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.queue_runner import (
    TREE_SEP,
    CheckRunner,
    QueueDoc,
    QueueDocuments,
    claim_mode,
    clean_up_after,
    now,
    runner_alive,
)
from greenline.api.workspace import Workspace
from greenline.errors import NoDataError, UsageError, VcsError
from greenline.mergequeue.codec import load_entry
from greenline.mergequeue.simulate import Scenario, load_arrival_rate, simulate
from greenline.model.queue import (
    Action,
    Added,
    Event,
    FlakyTestsKnown,
    MainMoved,
    Paused,
    Purpose,
    QueueEntry,
    Removed,
    Restarted,
    Resumed,
    Strategy,
)

SIMULATION_SCHEMA = "greenline.queue-simulation/1"
STATUS_SCHEMA = "greenline.queue-status/1"
DEFAULT_LOAD = 0.7
POLL_S = 0.2


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
    _check_scenario(changes, fail_rate, conflict_rate, flake_rate, ci_minutes, runners)
    if arrival_rate is not None and arrival_rate <= 0:
        raise UsageError(
            f"--arrival-rate {arrival_rate}: changes per hour, must be positive",
            hint="leave it out for 70% of what the runners can take",
        )
    rate = arrival_rate or load_arrival_rate(DEFAULT_LOAD, runners, fail_rate, ci_minutes)
    results = [
        simulate(
            Scenario(
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
        ).summary()
        for strategy in strategies
    ]
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


def _check_scenario(
    changes: int,
    fail_rate: float,
    conflict_rate: float,
    flake_rate: float,
    ci_minutes: float,
    runners: int,
) -> None:
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


class QueueService:
    """The merge queue on a local git repository."""

    def __init__(self, ws: Workspace, flaky: FlakyService) -> None:
        self.ws = ws
        self.flaky = flaky
        self.docs = QueueDocuments(ws)

    simulate = staticmethod(simulate_queue)

    # -- commands ------------------------------------------------------------------------------
    def add(self, branch: str, priority: int = 0) -> QueueEntry:
        """Queue ``branch`` at its current head (again with a new head: the old one leaves)."""
        root = self.ws.root
        head = vcs.resolve_revision(root, f"refs/heads/{branch}")

        def change(doc: QueueDoc) -> QueueEntry:
            claim_mode(doc, pulls=False)
            if branch == doc.branch:
                raise UsageError(
                    f"{branch} is the branch the queue lands on",
                    hint="queue a feature branch: greenline queue add my-feature",
                )
            files = frozenset(vcs.changed_files(root, doc.main, head))
            entry = QueueEntry(branch, head, time.time(), priority, files)
            old = doc.state.entry(branch)
            events: list[Event] = []
            if old is not None and old.head != head:
                events.append(Removed(branch, f"replaced by its new head {head[:10]}"))
                doc.trees = {k: v for k, v in doc.trees.items() if branch not in k.split(TREE_SEP)}
            events.append(Added(entry))
            doc.step(events)
            return entry

        return self.docs.change(change, create=True)

    def remove(self, branch: str) -> None:
        def change(doc: QueueDoc) -> None:
            claim_mode(doc, pulls=False)
            if doc.state.entry(branch) is None:
                raise UsageError(f"{branch} is not queued", hint="greenline queue status")
            doc.step([Removed(branch)])
            doc.log("removed", (branch,), "removed by hand", None)

        self.docs.change(change)

    def pause(self, paused: bool = True) -> None:
        self.docs.change(lambda doc: doc.step([Paused() if paused else Resumed()]))

    def status(self) -> dict[str, Any]:
        _, doc = self.docs.read()
        if doc is None:
            return {"schema": STATUS_SCHEMA, "branch": None, "entries": [], "journal": []}
        # a pull request's trees are checked by the code host's CI, whoever is listening
        active = runner_alive(doc.runner) or doc.forge is not None
        pulls = (doc.forge or {}).get("pulls", {})
        running = {r.changes[-1]: r for r in doc.state.runs if r.purpose is Purpose.PRECHECK}
        gate_runs = [r for r in doc.state.runs if r.purpose is Purpose.GATE]
        return {
            "schema": STATUS_SCHEMA,
            "branch": doc.branch,
            "main": doc.main,
            "paused": doc.state.paused,
            "runner": doc.runner if active else None,
            "window": doc.state.window,
            **(
                {"forge": {k: doc.forge[k] for k in ("kind", "repository")}}
                if doc.forge is not None
                else {}
            ),
            "entries": [
                {
                    **(
                        {"pull_request": pulls[e.change_id]["number"]}
                        if e.change_id in pulls
                        else {}
                    ),
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

    def run(
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
        checks = CheckRunner(self.ws, self.docs, check, timeout_s)
        _, before = self.docs.read()
        seen = len(before.journal) if before else 0
        flaky = frozenset(v.test_id for v in self._known_flaky())
        actions = self.docs.change(lambda doc: self._begin(doc, runners, flaky))
        counts = {"landed": 0, "ejected": 0}
        try:
            while True:
                self.finish_landings()
                events = checks.perform(actions) + checks.collect()
                actions = []
                if events:
                    actions = self.docs.change(functools.partial(_step, events=events))
                _, doc = self.docs.read()
                if doc is not None:
                    seen = _announce(doc, seen, counts, on_decision)
                if doc is None or (
                    until_empty and not doc.state.entries and not doc.pending and not checks.busy
                ):
                    break
                if not events and not actions:
                    time.sleep(POLL_S)
        finally:
            checks.stop()
            self.docs.change(_stop_running)
        return counts

    def _begin(self, doc: QueueDoc, runners: int, flaky: frozenset[str]) -> list[Action]:
        """Take the queue over: one runner at a time; what a dead one left is cleaned up."""
        claim_mode(doc, pulls=False)
        if doc.runner is not None and runner_alive(doc.runner):
            raise UsageError(
                f"the queue is already running (pid {doc.runner['pid']}, since "
                f"{doc.runner['since']})",
                hint="one runner per queue: stop that one first, or watch it with "
                "greenline queue status",
            )
        cleaned = clean_up_after(self.ws, doc)
        if cleaned:
            doc.log("cleaned", (), "; ".join(cleaned) + " (left by a runner that died)", None)
        doc.runner = {"pid": os.getpid(), "host": socket.gethostname(), "since": now().isoformat()}
        doc.state = replace(doc.state, config=replace(doc.state.config, runners=runners))
        actual = vcs.resolve_revision(self.ws.root, f"refs/heads/{doc.branch}")
        events: list[Event] = [Restarted(), FlakyTestsKnown(flaky)]  # earlier runs are gone
        if not doc.pending and actual != doc.main:
            doc.main = actual
            events.append(MainMoved(actual))
        return doc.step(events)

    def _known_flaky(self) -> list[Any]:
        """The tests the flaky capability calls flaky: failures only there are re-run."""
        try:
            return self.flaky.verdicts()
        except NoDataError:
            return []

    def finish_landings(self) -> None:
        """Fast-forward the branch for every landing the document records as pending (again
        after a crash: a landing already done is recognised)."""
        _, doc = self.docs.read()
        if doc is None or not doc.pending:
            return
        root = self.ws.root
        for landing in list(doc.pending):
            current = vcs.resolve_revision(root, f"refs/heads/{doc.branch}")
            if current != landing["sha"] and not vcs.fast_forward(
                root, doc.branch, landing["sha"], landing["old"]
            ):
                if current == landing["old"]:
                    names = ", ".join(e["change_id"] for e in landing["entries"])
                    raise VcsError(
                        f"cannot fast-forward {doc.branch} to {landing['sha'][:10]}: the "
                        "checkout has local changes in the way",
                        hint="commit or stash them, then run greenline queue run again "
                        f"(the landing of {names} is kept)",
                    )
                self.docs.change(functools.partial(_main_moved, moved=current))
                return

            def done(d: QueueDoc, sha: str = landing["sha"]) -> None:
                d.pending = [p for p in d.pending if p["sha"] != sha]

            self.docs.change(done)


def _step(doc: QueueDoc, events: list[Event]) -> list[Action]:
    return doc.step(events)


def _main_moved(doc: QueueDoc, moved: str) -> None:
    """The branch moved by someone else's hand: landings not done yet are queued again
    (their trees are stale), and every tree restarts on the new commit."""
    requeue = [load_entry(e) for p in doc.pending for e in p["entries"]]
    doc.pending.clear()
    doc.main = moved
    doc.step([MainMoved(moved), *(Added(e) for e in requeue)])
    doc.log("main-moved", (), f"{doc.branch} moved to {moved[:10]} by someone else", None)
    if requeue:
        names = tuple(e.change_id for e in requeue)
        doc.log("requeued", names, "their landing found the branch moved", None)


def _announce(
    doc: QueueDoc,
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


def _stop_running(doc: QueueDoc) -> None:
    if doc.runner and doc.runner.get("pid") == os.getpid():
        doc.runner = None
