"""``greenline queue simulate``: the merge queue's strategies on a simulated stream of changes."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from greenline.api.queue import simulate_queue
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    MAX_INT,
    Format,
    console,
    emit_json,
    state_of,
)
from greenline.errors import UsageError
from greenline.model.queue import Strategy

queue_app = typer.Typer(
    help="Merge queue: land many changes fast, keep main green.", no_args_is_help=True
)

ROWS = (  # times in CI durations
    ("merges per CI duration", "throughput_per_ci_duration"),
    ("CI runs per merge", "ci_runs_per_merge"),
    ("time to merge p50", "merge_p50_ci"),
    ("time to merge p95", "merge_p95_ci"),
    ("time to reject p95", "rejection_p95_ci"),
    ("merged / rejected", None),
    ("innocent rejections", "innocent_rejections"),
    ("main green", "main_green_share"),
)


@queue_app.command("simulate")
def simulate_command(
    changes: int = typer.Option(1000, "--changes", max=MAX_COUNT, help="Changes that arrive."),
    fail_rate: float = typer.Option(
        0.3, "--fail-rate", help="Share that break tests by themselves."
    ),
    conflict_rate: float = typer.Option(
        0.05, "--conflict-rate", help="Share that conflict with a recent change when combined."
    ),
    flake_rate: float = typer.Option(
        0.03, "--flake-rate", help="Share of check runs that fail in a known-flaky test."
    ),
    ci_minutes: float = typer.Option(30.0, "--ci-minutes", help="How long a passing check takes."),
    runners: int = typer.Option(16, "--runners", max=MAX_COUNT, help="Check runs at once."),
    arrival_rate: float | None = typer.Option(
        None, "--arrival-rate", help="Changes per hour (default: 70% of what the runners can take)."
    ),
    strategy: Strategy = typer.Option(
        Strategy.GREENLINE, "--strategy", help="How the queue lands."
    ),
    compare: bool = typer.Option(False, "--compare", help="Every strategy, side by side."),
    seed: int = typer.Option(
        1, "--seed", max=MAX_INT, help="The same seed, the same changes and outcomes."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Drive the merge-queue engine with a simulated clock and CI and report how it does."""
    doc = simulate_queue(
        changes=changes,
        fail_rate=fail_rate,
        conflict_rate=conflict_rate,
        flake_rate=flake_rate,
        ci_minutes=ci_minutes,
        runners=runners,
        arrival_rate=arrival_rate,
        strategies=list(Strategy) if compare else [strategy],
        seed=seed,
    )
    if fmt is Format.json:
        emit_json(doc)
        return
    _print(doc)


def _print(doc: dict[str, Any]) -> None:
    s = doc["scenario"]
    console.print(
        f"{s['changes']} changes at {s['arrival_per_hour']}/h, {s['runners']} runners, "
        f"{s['ci_minutes']:g}-minute CI; {s['fail_rate']:.0%} break, {s['conflict_rate']:.0%} "
        f"conflict, {s['flake_rate']:.0%} of runs flake (seed {s['seed']}); times in CI durations"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    for result in doc["strategies"]:
        table.add_column(result["strategy"], justify="right")
    for label, key in ROWS:
        cells = []
        for result in doc["strategies"]:
            value = f"{result['merged']} / {result['rejected']}" if key is None else result[key]
            cells.append(
                "-"
                if value is None
                else f"{value:.0%}"
                if key == "main_green_share"
                else str(value)
            )
        table.add_row(label, *cells)
    console.print(table)


@queue_app.command("add")
def add_command(
    ctx: typer.Context,
    branch: str | None = typer.Argument(None, help="The branch to land (at its current head)."),
    pr: int | None = typer.Option(
        None, "--pr", min=1, max=MAX_INT, help="A pull request on the code host instead."
    ),
    priority: int = typer.Option(
        0, "--priority", min=-MAX_INT, max=MAX_INT, help="Higher lands first."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Queue a branch or a pull request: it is checked alone on main, then lands once its
    exact tree passes."""
    _one_of(branch, pr)
    with state_of(ctx).open_api() as gl:
        entry = gl.queue.add(branch, priority) if branch else gl.pull_queue.add(pr or 0, priority)
    if fmt is Format.json:
        shown: dict[str, Any] = {"queued": entry.change_id, "head": entry.head}
        emit_json({**shown, **({"pull_request": pr} if pr else {}), "priority": entry.priority})
    else:
        console.print(f"queued {entry.change_id} at {entry.head[:10]} (priority {entry.priority})")


@queue_app.command("remove")
def remove_command(
    ctx: typer.Context,
    branch: str | None = typer.Argument(None, help="A queued branch."),
    pr: int | None = typer.Option(None, "--pr", min=1, max=MAX_INT, help="A queued pull request."),
) -> None:
    """Take a branch or pull request out of the queue (its running checks stop)."""
    _one_of(branch, pr)
    with state_of(ctx).open_api() as gl:
        if branch:
            gl.queue.remove(branch)
        else:
            gl.pull_queue.remove(pr or 0)
    console.print(f"removed {branch or f'#{pr}'}")


@queue_app.command("sync")
def sync_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Catch the queue on pull requests up with the code host: CI results, its base branch,
    trees still to push, landings and clean-ups still to do (after a restart, or missed
    webhooks)."""
    with state_of(ctx).open_api() as gl:
        doc = gl.pull_queue.sync()
    if fmt is Format.json:
        emit_json(doc)
        return
    console.print(
        f"{doc['results']} CI result(s) taken in; {doc['pushed']} tree(s) pushed, "
        f"{doc['landed']} landed, {doc['commented']} comment(s), {doc['deleted']} branch(es) "
        "deleted"
    )


def _one_of(branch: str | None, pr: int | None) -> None:
    if (branch is None) == (pr is None):
        raise UsageError(
            "give a branch or --pr N (one of them)",
            hint="greenline queue add my-feature, or greenline queue add --pr 12",
        )


@queue_app.command("pause")
def pause_command(ctx: typer.Context) -> None:
    """Stop starting checks and landing; results keep arriving."""
    with state_of(ctx).open_api() as gl:
        gl.queue.pause(True)
    console.print("paused")


@queue_app.command("resume")
def resume_command(ctx: typer.Context) -> None:
    """Start checking and landing again."""
    with state_of(ctx).open_api() as gl:
        gl.queue.pause(False)
    console.print("resumed")


@queue_app.command("status")
def status_command(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """What is queued, at which stage, and the latest decisions with their reasons."""
    with state_of(ctx).open_reader() as gl:
        doc = gl.queue.status()
    if fmt is Format.json:
        emit_json(doc)
        return
    if doc["branch"] is None:
        console.print("the merge queue is empty (greenline queue add BRANCH)")
        return
    paused = " (paused)" if doc["paused"] else ""
    runner = doc["runner"]
    forge = doc.get("forge")
    working = (
        f"pull requests of {forge['repository']} ({forge['kind']}), their trees checked by its CI"
        if forge
        else f"a runner works on it (pid {runner['pid']} on {runner['host']})"
        if runner
        else "no runner works on it (greenline queue run --check '…')"
    )
    console.print(f"landing on {doc['branch']} at {doc['main'][:10]}{paused}; {working}")
    table = Table("branch", "stage", "priority", "running")
    for e in doc["entries"]:
        table.add_row(e["branch"], e["stage"], str(e["priority"]), ", ".join(e["runs"]) or "-")
    if doc["entries"]:
        console.print(table)
    for item in doc["journal"][-10:]:
        console.print(_decision(item))


@queue_app.command("run")
def run_command(
    ctx: typer.Context,
    check: str = typer.Option(..., "--check", help="The shell command a tree must pass."),
    runners: int = typer.Option(2, "--runners", max=MAX_COUNT, help="Checks at once."),
    forever: bool = typer.Option(False, "--forever", help="Keep waiting for new branches."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds before a check fails."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Run the queue: check each tree, land what passes by fast-forward, eject what fails."""

    def show(item: dict[str, Any]) -> None:
        if fmt is Format.text:
            console.print(_decision(item))

    with state_of(ctx).open_api() as gl:
        counts = gl.queue.run(
            check, runners=runners, until_empty=not forever, on_decision=show, timeout_s=timeout
        )
    if fmt is Format.json:
        emit_json({"schema": "greenline.queue-run/1", **counts})
    else:
        console.print(f"{counts['landed']} landed, {counts['ejected']} ejected")


def _decision(item: dict[str, Any]) -> str:
    changes = ", ".join(item["changes"])
    return f"{item['kind']} {changes}: {item['reason']}".replace(" : ", ": ")
