"""``greenline run --shards N``: the suite collected once, split by recorded durations, its
shards run side by side through the executor (local processes, or a Ray cluster), and every
result stored by this process alone as one run.

A shard's results are stored only once its pytest has finished (an exit code pytest ends a
session with, and the results file closed), so a shard that dies is rerun whole, once, and
nothing is stored twice; a shard that dies again is reported, with whatever its last attempt
finished, and the run is left incomplete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from greenline.api.runs import RunService
from greenline.api.split import SplitService
from greenline.api.workspace import Workspace
from greenline.errors import UsageError
from greenline.executor import IN, OUT, Handle, Job, JobResult, pytest_job
from greenline.model import Outcome, Phase, Run, TestResult
from greenline.model.shards import ShardPlan, encode_plan

#: pytest's exit codes for a session that ran to its end (passed, failed, nothing collected)
FINISHED = frozenset({0, 1, 5})
#: pytest options that would make a shard write the store itself, or stop the split working
REFUSED = ("--greenline-record", "--greenline-shard", "--greenline-results")
POLL_SECONDS = 0.2


@dataclass
class ShardState:
    """One shard of a sharded run, as the progress display and the summary see it."""

    index: int
    tests: int
    predicted: float
    status: str = "waiting"  # waiting, running, done, retrying, lost
    attempts: int = 0
    started: float | None = None
    seconds: float | None = None  # the finished attempt's
    exit_code: int | None = None
    error: str | None = None
    results: list[TestResult] = field(default_factory=list)


@dataclass(frozen=True)
class ShardedRun:
    run: Run
    plan: ShardPlan
    shards: tuple[ShardState, ...]
    #: wall-clock seconds from the first shard's start to the last one's end
    makespan: float
    exit_code: int
    collected: int


Progress = Callable[[Sequence[ShardState], float], None]


class ShardRunService:
    """Runs the suite split over shards and stores it as one run."""

    def __init__(self, ws: Workspace, runs: RunService, split: SplitService) -> None:
        self.ws = ws
        self.runs = runs
        self.split = split

    def run(
        self,
        shards: int,
        pytest_args: Sequence[str],
        *,
        on_progress: Progress | None = None,
        timeout: float | None = None,
    ) -> ShardedRun:
        """Collect, plan, run every shard (a dead one once more), store, summarise."""
        refused = [a for a in pytest_args if a.split("=", 1)[0] in REFUSED]
        if refused:
            raise UsageError(
                f"greenline run --shards: {refused[0]} cannot be passed to its pytest",
                hint="greenline run stores the run and splits it itself: leave it out",
            )
        ids = self.collect(pytest_args)
        plan = self.split.plan(shards, test_ids=ids)
        run_id = self.runs.start_run(
            "shards", args=" ".join(["--shards", str(shards), *pytest_args])
        )
        states = [ShardState(i, len(plan.tests_of(i)), plan.loads[i]) for i in range(shards)]
        started = time.monotonic()
        self._run_shards(plan, states, pytest_args, timeout, on_progress)
        makespan = time.monotonic() - started
        results = [r for s in states for r in s.results]
        self.runs.add_results(run_id, results)
        lost = [s for s in states if s.status == "lost"]
        codes = [s.exit_code for s in states if s.exit_code is not None]
        failed = any(r.outcome.is_failure for r in results) or 1 in codes
        exit_code = 1 if failed else (3 if lost else (0 if ids else 5))
        self.runs.finish_run(run_id, exit_code, complete=not lost)
        run = self.runs.get_run(run_id)
        return ShardedRun(run, plan, tuple(states), makespan, exit_code, len(ids))

    def collect(self, pytest_args: Sequence[str]) -> list[str]:
        """The tests pytest would run with these arguments (after any selection), from one
        collection run through the executor. As in pytest, an error in collecting (a module
        that does not import, a path that does not exist) stops the run before it starts."""
        job = pytest_job(
            "--collect-only",
            f"--greenline-results={OUT}/collected.jsonl",
            *pytest_args,
            cwd=self.ws.workdir,
        )
        result = self.ws.executor.run(job)
        rows = [json.loads(line) for line in result.text("collected.jsonl").splitlines() if line]
        listed = next((r["collected"] for r in rows if "collected" in r), None)
        if listed is None or result.exit_code not in (0, 5):
            errors = [f"{r['test_id']}: {r['message']}" for r in rows if "test_id" in r]
            why = result.error or f"pytest exited {result.exit_code}"
            why += f": {errors[0]}" if errors else ""
            raise UsageError(
                f"greenline run --shards: collecting the tests failed ({why})",
                hint="run the same collection to see why: pytest --collect-only "
                + " ".join(pytest_args),
            )
        return [str(t) for t in listed]

    def _run_shards(
        self,
        plan: ShardPlan,
        states: list[ShardState],
        pytest_args: Sequence[str],
        timeout: float | None,
        on_progress: Progress | None,
    ) -> None:
        document = encode_plan(plan).encode("utf-8")
        jobs = {
            s.index: self._shard_job(plan, s.index, document, pytest_args, timeout)
            for s in states
            if s.tests
        }
        for state in states:
            if not state.tests:
                state.status, state.seconds, state.exit_code = "done", 0.0, 5
        running: dict[int, Handle] = {}
        for index, job in jobs.items():
            running[index] = self._start(states[index], job)
        while running:
            for index, handle in list(running.items()):
                result = handle.poll()
                if result is None:
                    continue
                del running[index]
                if self._absorb(states[index], result) == "retry":
                    running[index] = self._start(states[index], jobs[index])
            if on_progress is not None:
                on_progress(states, time.monotonic())
            if running:
                time.sleep(POLL_SECONDS)

    def _shard_job(
        self,
        plan: ShardPlan,
        index: int,
        document: bytes,
        args: Sequence[str],
        timeout: float | None,
    ) -> Job:
        return pytest_job(
            f"--greenline-shard={index}/{plan.shards}",
            f"--greenline-shard-plan={IN}/plan.json",
            f"--greenline-results={OUT}/results.jsonl",
            *args,
            cwd=self.ws.workdir,
            timeout=timeout,
            inputs={"plan.json": document},
        )

    def _start(self, state: ShardState, job: Job) -> Handle:
        state.attempts += 1
        state.status = "running" if state.attempts == 1 else "retrying"
        state.started = time.monotonic()
        return self.ws.executor.start(job)

    def _absorb(self, state: ShardState, result: JobResult) -> str:
        """Keep a finished shard's results; 'retry' for a first attempt that did not finish."""
        rows = [json.loads(line) for line in result.text("results.jsonl").splitlines() if line]
        closed = any(r.get("done") for r in rows)
        finished = result.exit_code in FINISHED and closed
        if not finished and state.attempts < 2:
            state.error = describe(result, closed)
            return "retry"
        state.seconds = result.seconds
        state.exit_code = result.exit_code
        # collection errors are the collection run's (stored once); a shard keeps its own tests
        state.results = [
            to_result(r) for r in rows if "test_id" in r and r.get("phase") != Phase.COLLECT.value
        ]
        state.status = "done" if finished else "lost"
        state.error = None if finished else describe(result, closed)
        return state.status


def describe(result: JobResult, closed: bool) -> str:
    """Why a shard's attempt did not finish."""
    if result.error:
        return result.error
    if result.exit_code is None:
        return "killed (its timeout)"
    if result.exit_code < 0:
        return f"killed by signal {-result.exit_code}"
    if not closed:
        return f"pytest exited {result.exit_code} before its session ended"
    return f"pytest exited {result.exit_code} (interrupted or a usage error)"


def to_result(row: dict[str, object]) -> TestResult:
    phase = row.get("phase")
    duration = row.get("duration")
    attempt = row.get("attempt")
    return TestResult(
        test_id=str(row["test_id"]),
        outcome=Outcome(str(row["outcome"])),
        duration=float(duration) if isinstance(duration, int | float) else 0.0,
        phase=Phase(str(phase)) if phase else None,
        message=str(row["message"]) if row.get("message") else None,
        attempt=int(attempt) if isinstance(attempt, int) else 1,
        path=str(row["path"]) if row.get("path") else None,
    )
