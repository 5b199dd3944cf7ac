"""``greenline run --shards N -- PYTEST_ARGS``: the whole suite split by recorded durations and
run in parallel (local processes, or a Ray cluster with ``--executor ray``), stored as one run;
shards running and done and the predicted finish on a terminal, then the makespan against the
plan."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Sequence
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from greenline import views
from greenline.api.shard_runs import Progress, ShardedRun, ShardState
from greenline.cli import render
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    PASSTHROUGH,
    Format,
    console,
    emit_json,
    err_console,
    state_of,
)
from greenline.errors import UsageError


class ExecutorName(enum.StrEnum):
    local = "local"
    ray = "ray"


class ShardedRunGroup(TyperGroup):
    """``greenline run`` is a group (``run show``) that also runs the suite itself: what comes
    after ``--`` is pytest's, never a subcommand's name."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored click
        if "--" in args:
            args = args[: args.index("--")]
            # pytest arguments alone are a run without --shards: say so, not the help page
            self.no_args_is_help = self.no_args_is_help and bool(args)
        return super().parse_args(ctx, args)


def run_sharded(
    ctx: typer.Context,
    shards: int | None = typer.Option(
        None, "--shards", "-n", min=1, max=MAX_COUNT, help="Split the suite into N shards."
    ),
    executor: ExecutorName | None = typer.Option(
        None, "--executor", help="Where the shards run (default: GREENLINE_EXECUTOR, or local)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", metavar="ADDR", help="The Ray cluster (host:port of its head)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=1, help="Seconds a shard may take before it is killed."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Run the suite split over shards: greenline run --shards N [-- PYTEST_ARGS]

    Tests are spread by recorded duration, the shards run side by side (local processes, or
    Ray workers with --executor ray: the work tree is shipped to them), and every result is
    stored by this process as one run. A shard whose worker dies is run once more; one that
    dies again is reported and the run left incomplete. Exits with pytest's code (1: tests
    failed), or 3 when a shard was lost."""
    if ctx.invoked_subcommand is not None:
        return
    if shards is None:
        raise UsageError(
            "greenline run: --shards N is needed to run the suite (or a subcommand: show)",
            hint="greenline run --shards 4 -- -x tests/   (see: greenline run --help)",
        )
    flags: dict[str, object] = {
        "executor": executor.value if executor else None,
        "ray_address": ray_address,
    }
    state = state_of(ctx)
    with (
        state.open_api(flags=flags) as gl,
        shard_progress(fmt is Format.text and err_console.is_terminal) as on_progress,
    ):
        outcome = gl.shard_runs.run(
            shards, list(PASSTHROUGH.get()), on_progress=on_progress, timeout=timeout
        )
    if fmt is Format.json:
        emit_json(views.sharded_run_document(outcome))
    else:
        print_summary(outcome)
    raise typer.Exit(outcome.exit_code)


@contextlib.contextmanager
def shard_progress(live: bool) -> Iterator[Progress | None]:
    """A live table on a terminal (each shard's state, predicted finish); nothing otherwise."""
    if not live:
        yield None
        return
    with Live(console=err_console, transient=True, refresh_per_second=4) as display:

        def update(states: Sequence[ShardState], now: float) -> None:
            display.update(progress_table(states, now))

        yield update


def predicted_finish(states: Sequence[ShardState], now: float) -> float:
    """Seconds from ``now`` until the last shard is predicted to end (by the plan's times)."""
    left = 0.0
    for s in states:
        if s.status in ("running", "retrying") and s.started is not None:
            left = max(left, s.started + s.predicted - now)
    return max(left, 0.0)


def progress_table(states: Sequence[ShardState], now: float) -> Group:
    done = sum(s.status in ("done", "lost") for s in states)
    running = sum(s.status in ("running", "retrying") for s in states)
    title = (
        f"{running} shards running, {done} of {len(states)} done; "
        f"predicted finish in {render.seconds(predicted_finish(states, now))}"
    )
    table = Table(box=None)
    for column in ("shard", "tests", "predicted", "elapsed", "state"):
        table.add_column(column, justify="right" if column != "state" else "left")
    for s in states:
        elapsed = s.seconds if s.seconds is not None else (now - s.started if s.started else 0.0)
        table.add_row(
            str(s.index),
            str(s.tests),
            render.seconds(s.predicted),
            render.seconds(elapsed),
            s.status + (f" (attempt {s.attempts})" if s.attempts > 1 else ""),
        )
    return Group(Text(title), table)


def print_summary(outcome: ShardedRun) -> None:
    plan = outcome.plan
    console.print(render.run_header(outcome.run))
    slowest = max(outcome.shards, key=lambda s: s.seconds or 0.0)
    off = (outcome.makespan / plan.makespan - 1) if plan.makespan else 0.0
    tested = max((test_time(s) for s in outcome.shards), default=0.0)
    console.print(
        f"{outcome.collected} tests on {plan.shards} shards: makespan "
        f"{render.seconds(outcome.makespan)} against the plan's {render.seconds(plan.makespan)} "
        f"of test time ({off:+.0%}); the busiest shard's tests took {render.seconds(tested)}, "
        f"the rest is pytest starting and collecting; slowest shard {slowest.index}: "
        f"{render.seconds(slowest.seconds or 0.0)}",
        soft_wrap=True,
    )
    table = Table(box=None)
    for column in ("shard", "tests", "predicted", "tests took", "shard took", "attempts", "exit"):
        table.add_column(column, justify="right")
    for s in outcome.shards:
        took = render.seconds(s.seconds) if s.seconds is not None else "-"
        code = "-" if s.exit_code is None else str(s.exit_code)
        table.add_row(
            str(s.index),
            str(s.tests),
            render.seconds(s.predicted),
            render.seconds(test_time(s)),
            took,
            str(s.attempts),
            code,
        )
    console.print(table)
    for s in outcome.shards:
        if s.status == "lost":
            err_console.print(
                f"greenline: shard {s.index} was lost after {s.attempts} attempts ({s.error}): "
                f"{s.tests - len(s.results)} of its {s.tests} tests have no result",
                soft_wrap=True,
            )
        elif s.attempts > 1:
            err_console.print(f"greenline: shard {s.index} was rerun once: its worker died")


def test_time(state: ShardState) -> float:
    """What a shard's tests took by their own reports (its every attempt of every test)."""
    return sum(r.duration for r in state.results)


def attach(group: typer.Typer) -> None:
    """Make ``greenline run`` (a group with ``show``) run the suite when given --shards."""
    group.callback(
        invoke_without_command=True,
        cls=ShardedRunGroup,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(run_sharded)
