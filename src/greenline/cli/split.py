"""``greenline split``: this CI shard's tests, balanced by recorded duration."""

from __future__ import annotations

import enum
import os
import sys

import typer
from rich.table import Table

from greenline import views
from greenline.cli import render
from greenline.cli.state import MAX_COUNT, emit_json, err_console, state_of
from greenline.errors import UsageError
from greenline.model.shards import ShardPlan
from greenline.selection.ci_shards import ShardSpec, check_shard, plan_key_from_ci, shard_from_ci


class SplitFormat(enum.StrEnum):
    ids = "ids"
    json = "json"


def resolve_shard(shards: int | None, index: int | None) -> ShardSpec:
    """The flags, else the CI's variables; a flag given alone takes the other from CI."""
    ci = shard_from_ci(os.environ)
    total = shards if shards is not None else (ci.total if ci else None)
    at = index if index is not None else (ci.index if ci else None)
    if total is None or at is None:
        raise UsageError(
            "which shard? --shards and --index were not given and no CI shard variables are set",
            hint="greenline split --shards 4 --index 0 (0-based), or set GREENLINE_SHARD_INDEX "
            "and GREENLINE_SHARD_TOTAL",
        )
    source = "flags" if shards is not None and index is not None else (ci.source if ci else "")
    return check_shard(at, total, f"--index/--shards ({source})" if source else "--index")


def split_command(
    ctx: typer.Context,
    shards: int | None = typer.Option(
        None, "--shards", "-n", min=1, max=MAX_COUNT, help="How many shards (default: from CI)."
    ),
    index: int | None = typer.Option(
        None, "--index", "-i", min=0, max=MAX_COUNT, help="This shard, 0-based (default: CI)."
    ),
    fmt: SplitFormat = typer.Option(SplitFormat.ids, "--format", "-f", help="Output format."),
    explain: bool = typer.Option(False, "--explain", help="Show each shard's predicted time."),
    key: str | None = typer.Option(
        None,
        "--key",
        help="Store the plan under KEY or reuse the one stored there (default: the CI run's id).",
    ),
) -> None:
    """Print this shard's tests, one per line: pytest $(greenline split --shards 4 --index 0)

    Tests are spread by recorded duration, longest first onto the least-loaded shard; tests
    without history count as the median, and a new test file as one test. Every shard computes
    the same plan; in CI it is stored under the run's id, so a retried shard reruns exactly its
    tests. pytest --greenline-shard I/N does the same inside pytest (after selection)."""
    spec = resolve_shard(shards, index)
    with state_of(ctx).open_api() as gl:
        plan = gl.split.plan(spec.total, key=key or plan_key_from_ci(os.environ))
    if explain:
        err_console.print(explain_table(plan, spec.index))
    if fmt is SplitFormat.json:
        emit_json(views.shard_plan_document(plan, spec.index))
    else:
        sys.stdout.write("".join(f"{t}\n" for t in plan.tests_of(spec.index)))


def explain_table(plan: ShardPlan, index: int | None) -> Table:
    where = f"run {plan.baseline_run_id}" if plan.baseline_run_id else "no history"
    table = Table(
        title=f"{plan.shards} shards from {where}: predicted {render.seconds(plan.makespan)} "
        f"(lower bound {render.seconds(lower_bound(plan))})",
        title_justify="left",
    )
    for column in ("shard", "tests", "estimated", "predicted"):
        table.add_column(column, justify="right")
    table.add_column("")
    for i in range(plan.shards):
        tests = plan.tests_of(i)
        guessed = sum(t in plan.estimated for t in tests)
        mark = "this shard" if i == index else ""
        table.add_row(str(i), str(len(tests)), str(guessed), render.seconds(plan.loads[i]), mark)
    return table


def lower_bound(plan: ShardPlan) -> float:
    """No split can finish sooner: an equal share of the total, or the longest test."""
    return max(plan.total / plan.shards, max(plan.durations.values(), default=0.0))
