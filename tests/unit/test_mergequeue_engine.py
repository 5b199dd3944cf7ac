"""The merge queue's state machine, step by step with literal states and actions: arrivals,
pre-checks, a failure in the middle of a window, flaky failures, priorities, lanes (suspect-first
bisection), removal during a run, main moving, pause, and a restart after a crash."""

from __future__ import annotations

from greenline.mergequeue.engine import initial_state, step
from greenline.model.queue import (
    Added,
    CancelRun,
    Eject,
    FlakyTestsKnown,
    Land,
    MainMoved,
    Paused,
    Purpose,
    QueueConfig,
    QueueEntry,
    QueueRun,
    QueueState,
    Removed,
    ReportFlaky,
    Restarted,
    Resumed,
    RunFinished,
    Stage,
    StartRun,
    Strategy,
)

GATE, PRE = Purpose.GATE, Purpose.PRECHECK
CANCELLED = "its tree is no longer what lands"


def entry(change_id: str, at: float = 0.0, priority: int = 0, *areas: str) -> QueueEntry:
    return QueueEntry(change_id, f"sha-{change_id}", at, priority, frozenset(areas))


def run(run_id: str, purpose: Purpose, changes: tuple[str, ...], at: float) -> QueueRun:
    return QueueRun(run_id, purpose, "main0", changes, at)


def started(run_id: str, purpose: Purpose, changes: str, at: float, *first: str) -> StartRun:
    return StartRun(run(run_id, purpose, tuple(changes), at), tuple(first))


def gate_ids(state: QueueState) -> list[str]:
    return [e.change_id for e in state.entries if e.stage is Stage.GATE]


def test_greenline_checks_each_change_alone_then_lands_the_tested_tree() -> None:
    state = initial_state(QueueConfig(runners=4, window=4), "main0")
    state, actions = step(state, [Added(entry("a", 0, 0, "t1")), Added(entry("b", 0, 0, "t2"))], 1)
    assert actions == [started("r1", PRE, "a", 1, "t1"), started("r2", PRE, "b", 1, "t2")]
    # b breaks t2 by itself: rejected at once, with the run and the failed test
    state, actions = step(state, [RunFinished("r2", False, ("t2",))], 2)
    assert actions == [Eject("b", "fails alone on main (main0): t2", "r2", ("t2",))]
    # a passed alone: its gate tree is main + a, tested as it would land
    state, actions = step(state, [RunFinished("r1", True)], 3)
    assert actions == [started("r3", GATE, "a", 3, "t1")]
    assert gate_ids(state) == ["a"] and state.entries[0].entered_gate_at == 3
    state, actions = step(state, [RunFinished("r3", True)], 4)
    assert actions == [Land("r3", ("a",))]
    assert (state.landed, state.entries, state.runs, state.window) == (("a",), (), (), 5)
    # the next pre-check runs on main as it is now: main0 with a
    state, actions = step(state, [Added(entry("c", 5))], 5)
    assert actions == [started("r4", PRE, "ac", 5)]


def test_a_failure_in_the_middle_of_the_window_waits_for_the_trees_ahead() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, runners=8, window=4), "main0")
    state, actions = step(state, [Added(entry(c)) for c in "abcd"], 1)
    assert actions == [
        started("r1", GATE, "a", 1),
        started("r2", GATE, "ab", 1),
        started("r3", GATE, "abc", 1),
        started("r4", GATE, "abcd", 1),
    ]
    # a + b + c fails while a and a + b still run: the longer tree is pointless, the window halves
    state, actions = step(state, [RunFinished("r3", False, ("t3",))], 2)
    assert actions == [CancelRun("r4", CANCELLED)]
    assert (state.failing, state.probe, state.window) == (3, 2, 2)
    state, actions = step(state, [RunFinished("r1", True)], 3)
    assert actions == [Land("r1", ("a",))]
    state, actions = step(state, [RunFinished("r2", True)], 4)
    # main + a + b passes and main + a + b + c failed: c is the culprit, no extra run needed
    assert actions == [
        Land("r2", ("b",)),
        Eject(
            "c",
            "fails on top of main (main0 + a, b): t3; the tree without it passes",
            "r3",
            ("t3",),
        ),
        started("r5", GATE, "abd", 4),
    ]
    assert (state.landed, gate_ids(state), state.failing, state.window) == (("a", "b"), ["d"], 0, 4)


def test_a_failure_only_in_known_flaky_tests_is_run_again_not_blamed() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, window=2), "main0")
    state, _ = step(state, [FlakyTestsKnown(frozenset({"test_net"})), Added(entry("a"))], 1)
    state, actions = step(state, [RunFinished("r1", False, ("test_net",))], 2)
    assert actions == [
        ReportFlaky("r1", ("test_net",)),
        StartRun(QueueRun("r2", GATE, "main0", ("a",), 2, retries=1)),
    ]
    state, actions = step(state, [RunFinished("r2", False, ("test_net",))], 3)
    assert actions == [
        ReportFlaky("r2", ("test_net",)),
        StartRun(QueueRun("r3", GATE, "main0", ("a",), 3, retries=2)),
    ]
    # retries spent: the third flaky failure counts as real
    state, actions = step(state, [RunFinished("r3", False, ("test_net",))], 4)
    assert actions == [
        Eject(
            "a",
            "fails on top of main (main0): test_net; the tree without it passes",
            "r3",
            ("test_net",),
        )
    ]
    # a failure in a flaky test and a real one together is real at once
    state, _ = step(state, [Added(entry("b"))], 5)
    state, actions = step(state, [RunFinished("r4", False, ("test_net", "test_pay"))], 6)
    assert [type(a) for a in actions] == [Eject]


def test_priorities_go_first_but_never_into_a_tree_already_running() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, window=1), "main0")
    state, actions = step(state, [Added(entry("a", 1)), Added(entry("b", 2))], 2)
    assert actions == [started("r1", GATE, "a", 2)]
    state, _ = step(state, [Added(entry("urgent", 3, 5))], 3)
    assert gate_ids(state) == ["a", "urgent", "b"], "a's tree runs: urgent goes right after it"
    state, actions = step(state, [RunFinished("r1", True)], 4)
    # a landed: the window grows to two trees, urgent's and b's
    assert actions == [
        Land("r1", ("a",)),
        StartRun(run("r2", GATE, ("a", "urgent"), 4)),
        StartRun(run("r3", GATE, ("a", "urgent", "b"), 4)),
    ]


def test_greenline_bisects_a_failed_batch_by_lane_first() -> None:
    config = QueueConfig(runners=4, window=1, batch=3)
    state = initial_state(config, "main0")
    arrivals = [entry("a", 0, 0, "t1"), entry("b", 0, 0, "t2"), entry("c", 0, 0, "t3")]
    state, _ = step(state, [Added(e) for e in arrivals], 1)
    state, actions = step(state, [RunFinished(f"r{i}", True) for i in (1, 2, 3)], 2)
    assert actions == [started("r4", GATE, "abc", 2, "t1", "t2", "t3")]
    # the batch fails in t2, b's lane: the tree without b goes next, b moves to the end
    state, actions = step(state, [RunFinished("r4", False, ("t2",))], 3)
    assert actions == [started("r5", GATE, "ac", 3, "t1", "t3")]
    assert (gate_ids(state), state.failing, state.probe) == (["a", "c", "b"], 3, 2)
    # a and c land together; main + a + c + b is the tree that failed: b is ejected
    state, actions = step(state, [RunFinished("r5", True)], 4)
    assert actions == [
        Land("r5", ("a", "c")),
        Eject(
            "b",
            "fails on top of main (main0 + a, c): t2; it passed alone, so it conflicts with "
            "what lands before it",
            "r4",
            ("t2",),
        ),
    ]
    assert (state.entries, state.runs, state.failing, state.probe) == ((), (), 0, 0)


def test_batch_bisect_halves_a_failed_batch() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.BATCH_BISECT, batch=8), "main0")
    state, actions = step(state, [Added(entry(c)) for c in "abcd"], 1)
    assert actions == [started("r1", GATE, "abcd", 1)]
    state, actions = step(state, [RunFinished("r1", False, ("t",))], 2)
    assert actions == [started("r2", GATE, "ab", 2)]
    state, actions = step(state, [RunFinished("r2", True)], 3)
    assert actions == [Land("r2", ("a", "b")), started("r3", GATE, "abc", 3)]
    state, actions = step(state, [RunFinished("r3", True)], 4)
    assert actions[:1] == [Land("r3", ("c",))]
    assert [type(a) for a in actions[1:]] == [Eject]  # d: the tree without it passed


def test_removal_during_a_run_cancels_only_the_trees_holding_the_change() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, window=3), "main0")
    state, _ = step(state, [Added(entry(c)) for c in "abc"], 1)
    state, actions = step(state, [Removed("b")], 2)
    assert actions == [
        CancelRun("r2", CANCELLED),
        CancelRun("r3", CANCELLED),
        started("r4", GATE, "ac", 2),
    ]
    assert [r.run_id for r in state.runs] == ["r1", "r4"]
    state, actions = step(state, [RunFinished("r2", True)], 3)
    assert actions == [], "a cancelled run's late result is ignored"


def test_main_moving_restarts_every_tree_on_the_new_main() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, window=2), "main0")
    state, _ = step(state, [Added(entry(c)) for c in "ab"], 1)
    state, actions = step(state, [MainMoved("main1")], 2)
    assert actions == [
        CancelRun("r1", CANCELLED),
        CancelRun("r2", CANCELLED),
        StartRun(QueueRun("r3", GATE, "main1", ("a",), 2)),
        StartRun(QueueRun("r4", GATE, "main1", ("a", "b"), 2)),
    ]


def test_pause_holds_results_and_resume_acts_on_them() -> None:
    state = initial_state(QueueConfig(strategy=Strategy.OPTIMISTIC, window=1), "main0")
    state, _ = step(state, [Added(entry("a"))], 1)
    state, actions = step(state, [Paused(), RunFinished("r1", True), Added(entry("b"))], 2)
    assert actions == [] and state.paused and state.landed == ()
    state, actions = step(state, [Resumed()], 3)
    assert actions == [Land("r1", ("a",)), started("r2", GATE, "ab", 3)]


def test_a_restart_runs_lost_trees_again_and_lands_nothing_untested() -> None:
    state = initial_state(QueueConfig(runners=4, window=2), "main0")
    state, _ = step(state, [Added(entry("a")), Added(entry("b"))], 1)
    state, _ = step(state, [RunFinished("r1", True)], 2)  # a in the gate, b still pre-checking
    assert [(r.run_id, r.changes) for r in state.runs] == [("r2", ("b",)), ("r3", ("a",))]
    # the process died: its runs are gone; the same state, restarted, runs them again
    state, actions = step(state, [Restarted()], 10)
    assert actions == [started("r4", PRE, "b", 10), started("r5", GATE, "a", 10)]
    state, actions = step(state, [RunFinished("r3", True)], 11)
    assert actions == [], "a result from before the crash lands nothing"
    state, actions = step(state, [RunFinished("r5", True)], 12)
    assert actions == [Land("r5", ("a",))]


def test_greenline_blames_a_conflict_at_once_when_the_failed_tests_are_the_newest_change_s() -> (
    None
):
    state = initial_state(QueueConfig(runners=8, window=8), "main0")
    arrivals = [entry("a", 0, 0, "t1"), entry("b", 0, 0, "t2"), entry("c", 0, 0, "t2", "t3")]
    state, _ = step(state, [Added(e) for e in arrivals], 1)
    state, actions = step(state, [RunFinished(f"r{i}", True) for i in (1, 2, 3)], 2)
    assert [a.run.changes for a in actions if isinstance(a, StartRun)] == [
        ("a",),
        ("a", "b"),
        ("a", "b", "c"),
    ]
    # c passed alone, a + b still runs, and c's tree fails in t2, a test c touches: c conflicts
    # with a change ahead; no waiting for a + b to finish
    state, actions = step(state, [RunFinished("r6", False, ("t2",))], 3)
    assert actions == [
        Eject(
            "c",
            "fails on top of main and the changes ahead of it (a, b): t2; it passed alone and "
            "the failed tests are its own, so it conflicts with a change ahead",
            "r6",
            ("t2",),
        )
    ]
    assert (gate_ids(state), state.failing, [r.run_id for r in state.runs]) == (
        ["a", "b"],
        0,
        ["r4", "r5"],
    )
    # a failure outside the newest change's tests waits for the trees ahead, as before
    state, _ = step(state, [Added(entry("d", 4, 0, "t4"))], 4)
    state, actions = step(state, [RunFinished("r7", True)], 5)
    assert actions == [started("r8", GATE, "abd", 5, "t4")]
    state, actions = step(state, [RunFinished("r8", False, ("t1",))], 6)
    assert actions == [] and (state.failing, state.probe) == (3, 2)
