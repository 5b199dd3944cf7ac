"""The merge queue's state machine: ``step(state, events, now) -> (state, actions)``.

Changes wait in two stages. In the *pre-check* (strategy ``greenline`` only) each change is
tested alone on main, so a change that breaks tests by itself is rejected within about one CI
duration and never slows anyone else down. Changes that pass enter the *gate*: an ordered queue
whose speculative trees are tested as the exact commits that would land (main, then every change
ahead, then the tree's own changes). Trees are prefixes of the gate; a window bounds how many
run at once (it grows by one on every landing and halves on every real failure, as Zuul's does).

- A tree that passes lands at once, with every change in it, whatever shorter trees are still
  doing: the exact tree that lands has passed. **Nothing else ever lands.**
- A tree whose failures are all known-flaky tests is re-run (up to ``flaky_retries``) and the
  flaky tests are reported; nobody is blamed for them.
- A tree that fails for real, with every shorter tree landed, holds the culprit. With one
  change, it is ejected with the tree, the failed tests and why. With more, they are bisected:
  ``greenline`` first sets aside the changes whose impacted tests (their *lane*) include a
  failed test and tries the tree without them, so an innocent majority lands in one run;
  the others split the range in half.

Pure: the api (or the simulator) runs the checks, lands commits and reports back as events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

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


def initial_state(config: QueueConfig, base: str) -> QueueState:
    return QueueState(config=config, base=base, window=config.window)


def step(state: QueueState, events: Iterable[Event], now: float) -> tuple[QueueState, list[Action]]:
    """Apply ``events`` (in order) at time ``now``; return the new state and what to do."""
    work = _Work.of(state)
    for event in events:
        work.apply(event, now)
    work.settle(now)
    return work.freeze(), work.actions


@dataclass
class _Work:
    """A mutable copy of the state for the duration of one step."""

    config: QueueConfig
    base: str
    landed: list[str]
    entries: list[QueueEntry]
    runs: dict[str, QueueRun]
    window: int
    paused: bool
    next_run: int
    flaky: frozenset[str]
    failing: int  # > 0: the gate tree of this many changes is known to fail
    failing_tests: tuple[str, ...]
    failing_run: str | None
    probe: int  # > 0: only the tree of this many gate changes may run (a bisection step)
    actions: list[Action] = field(default_factory=list)

    @classmethod
    def of(cls, state: QueueState) -> _Work:
        return cls(
            config=state.config,
            base=state.base,
            landed=list(state.landed),
            entries=list(state.entries),
            runs={r.run_id: r for r in state.runs},
            window=state.window or state.config.window,
            paused=state.paused,
            next_run=state.next_run,
            flaky=state.flaky_tests,
            failing=state.failing,
            failing_tests=state.failing_tests,
            failing_run=state.failing_run,
            probe=state.probe,
        )

    def freeze(self) -> QueueState:
        return QueueState(
            config=self.config,
            base=self.base,
            landed=tuple(self.landed),
            entries=tuple(self.entries),
            runs=tuple(self.runs.values()),
            window=self.window,
            paused=self.paused,
            next_run=self.next_run,
            flaky_tests=self.flaky,
            failing=self.failing,
            failing_tests=self.failing_tests,
            failing_run=self.failing_run,
            probe=self.probe,
        )

    # -- views -----------------------------------------------------------------------------
    @property
    def gate(self) -> list[QueueEntry]:
        return [e for e in self.entries if e.stage is Stage.GATE]

    def prefix(self, run: QueueRun) -> int | None:
        """How many gate changes the run's tree holds, or None when the tree is stale."""
        if run.purpose is not Purpose.GATE or run.base != self.base:
            return None
        n = len(self.landed)
        if list(run.changes[:n]) != self.landed:
            return None
        rest = run.changes[n:]
        ids = [e.change_id for e in self.gate[: len(rest)]]
        return len(rest) if list(rest) == ids and rest else None

    def running(self) -> list[QueueRun]:
        return [r for r in self.runs.values() if r.passed is None]

    def finished(self) -> list[QueueRun]:
        return [r for r in self.runs.values() if r.passed is not None]

    def find(self, change_id: str) -> QueueEntry | None:
        return next((e for e in self.entries if e.change_id == change_id), None)

    # -- events ----------------------------------------------------------------------------
    def apply(self, event: Event, now: float) -> None:
        if isinstance(event, Added):
            self.add(event.entry)
        elif isinstance(event, Removed):
            entry = self.find(event.change_id)
            if entry is not None:
                self.entries.remove(entry)
                self.forget_failure()
        elif isinstance(event, RunFinished):
            run = self.runs.get(event.run_id)
            if run is not None and run.passed is None:
                self.runs[run.run_id] = replace(
                    run, passed=event.passed, failed_tests=tuple(event.failed_tests)
                )
                if run.purpose is Purpose.PRECHECK:
                    self.prechecked(self.runs.pop(run.run_id), now)
        elif isinstance(event, MainMoved):
            if event.base != self.base:
                self.base, self.landed = event.base, []
                self.forget_failure()
        elif isinstance(event, Paused):
            self.paused = True
        elif isinstance(event, Resumed):
            self.paused = False
        elif isinstance(event, FlakyTestsKnown):
            self.flaky = frozenset(event.tests)
        elif isinstance(event, Restarted):
            self.runs = {k: r for k, r in self.runs.items() if r.passed is not None}

    def add(self, entry: QueueEntry) -> None:
        if self.find(entry.change_id) is not None:
            return  # already queued: adding again changes nothing
        if self.config.strategy is not Strategy.GREENLINE:
            entry = replace(entry, stage=Stage.GATE, entered_gate_at=entry.added_at)
            self.enter_gate(entry)
        else:
            self.entries.append(replace(entry, stage=Stage.PRECHECK))

    def enter_gate(self, entry: QueueEntry) -> None:
        """Place a change in the gate: after every change a tree already holds, then by
        priority (higher first) and arrival."""
        committed = max((p for r in self.runs.values() if (p := self.prefix(r))), default=0)
        committed = max(committed, self.probe)
        gate = self.gate
        position = len(gate)
        for i in range(committed, len(gate)):
            if gate[i].priority < entry.priority:
                position = i
                break
        others = [e for e in self.entries if e.stage is not Stage.GATE]
        self.entries = [*gate[:position], entry, *gate[position:], *others]

    def prechecked(self, run: QueueRun, now: float) -> None:
        entry = self.find(run.changes[-1])
        if entry is None or entry.stage is not Stage.PRECHECK:
            return
        if run.passed:
            self.entries.remove(entry)
            self.enter_gate(replace(entry, stage=Stage.GATE, entered_gate_at=now))
        elif self.is_flaky(run) and entry.retries < self.config.flaky_retries:
            self.actions.append(ReportFlaky(run.run_id, run.failed_tests))
            self.entries[self.entries.index(entry)] = replace(entry, retries=entry.retries + 1)
        else:
            self.eject(
                entry,
                f"fails alone on main ({_short(run.base)}): {_tests(run.failed_tests)}",
                run.run_id,
                run.failed_tests,
            )

    def is_flaky(self, run: QueueRun) -> bool:
        return bool(run.failed_tests) and set(run.failed_tests) <= self.flaky

    def eject(
        self,
        entry: QueueEntry,
        reason: str,
        run_id: str | None = None,
        failed_tests: tuple[str, ...] = (),
    ) -> None:
        self.entries.remove(entry)
        self.actions.append(Eject(entry.change_id, reason, run_id, failed_tests))

    # -- decisions -------------------------------------------------------------------------
    def settle(self, now: float) -> None:
        """Drop stale runs, land what passed, blame what failed, then start what fits."""
        if self.paused:
            return
        for _ in range(10 * (len(self.entries) + len(self.runs)) + 10):
            if not self.decide(now):
                break
        else:  # each decision removes a run or an entry, or narrows a range: this never ends
            raise RuntimeError("the merge queue did not settle")
        self.cancel_stale()
        self.start(now)

    def decide(self, now: float) -> bool:
        """Act on one finished gate tree (or a known failure); True when something changed."""
        done = [
            (p, r) for r in self.runs.values() if r.passed is not None and (p := self.prefix(r))
        ]
        passed = [(p, r) for p, r in done if r.passed]
        if passed:
            n, run = max(passed, key=lambda pr: pr[0])
            self.land(n, run)
            return True
        failed = sorted(((p, r) for p, r in done if not r.passed), key=lambda pr: pr[0])
        if failed:
            n, run = failed[0]
            del self.runs[run.run_id]
            if self.is_flaky(run) and run.retries < self.config.flaky_retries:
                self.actions.append(ReportFlaky(run.run_id, run.failed_tests))
                self.launch(Purpose.GATE, tuple(run.changes), now, retries=run.retries + 1)
                return True
            self.window = max(self.config.window_floor, self.window // 2)
            if self.blame_newest(n, run):
                return True
            if not self.failing or n < self.failing:
                self.failing, self.failing_tests, self.failing_run = n, run.failed_tests, run.run_id
            self.probe = 0
            return True
        if not self.failing or self.probe:
            return False
        if self.failing == 1:
            self.eject(
                self.gate[0],
                f"fails on top of main ({_short(self.base)}"
                f"{' + ' + ', '.join(self.landed[-3:]) if self.landed else ''}): "
                f"{_tests(self.failing_tests)}; "
                + (
                    "it passed alone, so it conflicts with what lands before it"
                    if self.config.strategy is Strategy.GREENLINE
                    else "the tree without it passes"
                ),
                self.failing_run,
                self.failing_tests,
            )
            self.forget_failure()
            return True
        shorter = [p for r in self.running() if (p := self.prefix(r)) and p < self.failing]
        # a shorter tree still running narrows the range first; otherwise try a shorter one
        self.probe = max(shorter) if shorter else self.bisect(self.gate[: self.failing])
        return True

    def blame_newest(self, n: int, run: QueueRun) -> bool:
        """Greenline does not wait for the trees ahead when the newest change of a failed tree
        passed alone, its own tree without it still runs, and the failed tests are in its lane:
        it conflicts with a change ahead. (Should that change not land after all, this was an
        innocent rejection; the benchmark counts them.)"""
        if self.config.strategy is not Strategy.GREENLINE or n < 2:
            return False
        ahead = [r for r in self.running() if self.prefix(r) == n - 1]
        newest = self.gate[n - 1]
        if not ahead or not newest.impacted & set(run.failed_tests):
            return False
        self.eject(
            newest,
            f"fails on top of main and the changes ahead of it "
            f"({', '.join(e.change_id for e in self.gate[max(0, n - 4) : n - 1])}): "
            f"{_tests(run.failed_tests)}; it passed alone and the failed tests are its own, "
            "so it conflicts with a change ahead",
            run.run_id,
            run.failed_tests,
        )
        return True

    def forget_failure(self) -> None:
        self.failing, self.failing_tests, self.failing_run, self.probe = 0, (), None, 0

    def bisect(self, suspects: Sequence[QueueEntry]) -> int:
        """The next, shorter tree to try among the ``suspects`` of a failed tree."""
        n = len(suspects)
        if self.config.strategy is Strategy.GREENLINE:
            hit = [e for e in suspects if e.impacted & set(self.failing_tests)]
            if 0 < len(hit) < n:
                # the lane of the failed tests goes last: the tree without it likely passes
                clear = [e for e in suspects if e not in hit]
                rest = self.gate[n:]
                others = [e for e in self.entries if e.stage is not Stage.GATE]
                self.entries = [*clear, *hit, *rest, *others]
                return len(clear)
        return n // 2

    def land(self, n: int, run: QueueRun) -> None:
        changes = tuple(e.change_id for e in self.gate[:n])
        self.actions.append(Land(run.run_id, changes))
        self.landed += changes
        self.entries = [e for e in self.entries if e.change_id not in changes]
        del self.runs[run.run_id]
        self.window = min(self.config.window_ceiling, self.window + 1)
        if self.failing > n:
            self.failing -= n  # the same failed tree, now on the new main
            self.probe = 0
        else:
            self.forget_failure()  # a tree holding the failed one passed: it was not real

    def cancel_stale(self) -> None:
        for run in list(self.runs.values()):
            if run.purpose is Purpose.PRECHECK:
                entry = self.find(run.changes[-1])
                stale = entry is None or entry.stage is not Stage.PRECHECK
            else:
                n = self.prefix(run)
                stale = (
                    n is None
                    or (self.probe > 0 and n > self.probe)
                    or (self.failing > 0 and n >= self.failing and run.passed is None)
                )
            if stale:
                del self.runs[run.run_id]
                if run.passed is None:
                    self.actions.append(CancelRun(run.run_id, "its tree is no longer what lands"))

    # -- scheduling ------------------------------------------------------------------------
    def start(self, now: float) -> None:
        free = self.config.runners - len(self.running())
        gate_wanted = self.gate_trees()
        # pre-checks first, but the gate keeps a quarter of the runners when it has work
        reserve = min(len(gate_wanted), max(1, self.config.runners // 4)) if gate_wanted else 0
        checking = {r.changes[-1] for r in self.runs.values() if r.purpose is Purpose.PRECHECK}
        waiting = sorted(
            (e for e in self.entries if e.stage is Stage.PRECHECK and e.change_id not in checking),
            key=lambda e: (-e.priority, e.added_at, e.change_id),
        )
        for entry in waiting[: max(0, free - reserve)]:
            # alone on main as it is now: the base and what has landed on it
            changes = (*self.landed, entry.change_id)
            self.launch(Purpose.PRECHECK, changes, now, impacted=entry.impacted)
            free -= 1
        for n in gate_wanted[: max(0, free)]:
            gate = self.gate
            new = gate[n - self.batch() if n > self.batch() else 0 : n]
            tests = frozenset().union(*(e.impacted for e in new))
            ids = tuple(e.change_id for e in gate[:n])
            self.launch(Purpose.GATE, (*self.landed, *ids), now, impacted=tests)

    def batch(self) -> int:
        return max(1, self.config.batch)

    def gate_trees(self) -> list[int]:
        """The gate prefixes to start now, shortest first, within the window."""
        gate = self.gate
        if not gate:
            return []
        used = sorted(p for r in self.runs.values() if (p := self.prefix(r)))
        if self.probe:
            return [] if self.probe in used else [self.probe]
        if self.failing:
            return []  # the next step of the narrowing is decided first
        strategy = self.config.strategy
        window = 1 if strategy in (Strategy.SERIAL, Strategy.BATCH_BISECT) else self.window
        size = 1 if strategy is Strategy.SERIAL else self.batch()
        wanted: list[int] = []
        last = used[-1] if used else 0
        while len(used) + len(wanted) < window and last < len(gate):
            last = min(len(gate), last + size)
            wanted.append(last)
        return wanted

    def launch(
        self,
        purpose: Purpose,
        changes: tuple[str, ...],
        now: float,
        *,
        impacted: frozenset[str] = frozenset(),
        retries: int = 0,
    ) -> None:
        run = QueueRun(f"r{self.next_run}", purpose, self.base, changes, now, retries=retries)
        self.next_run += 1
        self.runs[run.run_id] = run
        first = tuple(sorted(impacted)) if self.config.strategy is Strategy.GREENLINE else ()
        self.actions.append(StartRun(run, first))


def _short(sha: str) -> str:
    return sha[:10]


def _tests(tests: Sequence[str]) -> str:
    if not tests:
        return "the check failed"
    shown = ", ".join(tests[:3])
    return shown + (f" and {len(tests) - 3} more" if len(tests) > 3 else "")
