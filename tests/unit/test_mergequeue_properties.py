"""Random event sequences through the merge-queue engine (hypothesis): whatever arrives, fails,
flakes, is removed, moves main, pauses or restarts, the exact tree that lands has passed, main
never holds a breaking change or a conflicting pair, no change is lost, and every ejection
says why."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from greenline.mergequeue.engine import initial_state, step
from greenline.model.queue import (
    Added,
    Eject,
    Event,
    FlakyTestsKnown,
    Land,
    MainMoved,
    Paused,
    QueueConfig,
    QueueEntry,
    QueueRun,
    QueueState,
    Removed,
    Restarted,
    Resumed,
    RunFinished,
    StartRun,
    Strategy,
)

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "add",
                "add",
                "add",
                "finish",
                "finish",
                "finish",
                "finish",
                "flake",
                "remove",
                "main",
                "pause",
                "resume",
                "restart",
            ]
        ),
        st.integers(0, 1000),
    ),
    max_size=80,
)


@dataclass
class World:
    """The ground truth the simulated CI answers from."""

    bad: set[str] = field(default_factory=set)
    conflicts: set[frozenset[str]] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    landed: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # ejected or removed
    trees: dict[str, QueueRun] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)

    def fails(self, run: QueueRun) -> bool:
        tree = set(run.changes)
        return bool(tree & self.bad) or any(pair <= tree for pair in self.conflicts)


@settings(max_examples=150, deadline=None)
@given(strategy=st.sampled_from(list(Strategy)), ops=OPS, batch=st.integers(1, 4))
def test_only_tested_trees_land_and_nothing_is_lost(
    strategy: Strategy, ops: list[tuple[str, int]], batch: int
) -> None:
    config = QueueConfig(strategy=strategy, runners=3, window=3, batch=batch, flaky_retries=1)
    state = initial_state(config, "main0")
    state, _ = step(state, [FlakyTestsKnown(frozenset({"flaky"}))], 0)
    world = World()
    for t, (op, n) in enumerate(ops, start=1):
        events = event_for(op, n, state, world)
        if events is None:
            continue
        before = state
        state, actions = step(state, events, float(t))
        check(before, state, events, actions, world)


def event_for(op: str, n: int, state: QueueState, world: World) -> list[Event] | None:
    running = sorted((r for r in state.runs if r.passed is None), key=lambda r: r.run_id)
    if op == "add":
        cid = f"c{len(world.added)}"
        if n % 4 == 0:
            world.bad.add(cid)
        if world.added and n % 5 == 1:
            world.conflicts.add(frozenset({cid, world.added[n % len(world.added)]}))
        world.added.append(cid)
        return [Added(QueueEntry(cid, cid, 0.0, n % 3, frozenset({f"t{n % 4}"})))]
    if op in ("finish", "flake") and running:
        run = running[n % len(running)]
        if op == "flake":
            return [RunFinished(run.run_id, False, ("flaky",))]
        failed = world.fails(run)
        if not failed:
            world.passed.add(run.run_id)
        return [RunFinished(run.run_id, not failed, ("t0",) if failed else ())]
    if op == "remove" and state.entries:
        return [Removed(state.entries[n % len(state.entries)].change_id)]
    if op == "main":
        return [MainMoved(state.base)] if n % 2 else None  # the same main: nothing to redo
    if op == "pause":
        return [Paused()]
    if op == "resume":
        return [Resumed()]
    if op == "restart":
        return [Restarted()]
    return None


def check(
    before: QueueState,
    after: QueueState,
    events: list[Event],
    actions: list[object],
    world: World,
) -> None:
    landed = list(before.landed)
    for event in events:
        if isinstance(event, Removed) and before.entry(event.change_id):
            world.gone.add(event.change_id)
    running = sum(1 for r in after.runs if r.passed is None)
    assert running <= after.config.runners
    for action in actions:
        if isinstance(action, StartRun):
            world.trees[action.run.run_id] = action.run
        elif isinstance(action, Land):
            tree = world.trees[action.run_id]
            # the exact tree that lands passed: main as it was, plus the landing changes
            assert action.run_id in world.passed
            assert (tree.base, tree.changes) == (before.base, (*landed, *action.changes))
            landed += action.changes
            world.landed += action.changes
            main = set(world.landed)
            assert not main & world.bad
            assert not any(pair <= main for pair in world.conflicts)
        elif isinstance(action, Eject):
            assert action.reason
            world.gone.add(action.change_id)
    assert tuple(landed) == after.landed
    # no change lost: each is waiting, landed, ejected or removed, exactly once
    waiting = [e.change_id for e in after.entries]
    assert len(waiting) == len(set(waiting))
    assert sorted(waiting + world.landed + sorted(world.gone)) == sorted(world.added)
