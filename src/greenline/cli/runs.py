"""``greenline runs`` and ``greenline run show``: what ran, when, on which commit, and how."""

from __future__ import annotations

import typer

from greenline.cli import render
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    MAX_INT,
    Format,
    console,
    emit_json,
    limit_option,
    rows_left_out,
    state_of,
)
from greenline.errors import NoDataError
from greenline.model import RunStatus

run_app = typer.Typer(help="Look at one run.", no_args_is_help=True)


def list_runs(
    ctx: typer.Context,
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=MAX_COUNT, help="How many runs, newest first."
    ),
    status: RunStatus | None = typer.Option(None, help="Only runs with this status."),
    branch: str | None = typer.Option(None, help="Only runs on this branch."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List recorded runs, newest first."""
    with state_of(ctx).open_reader() as gl:
        runs = gl.runs.list_runs(limit=limit, status=status, branch=branch)
        total = gl.runs.count_runs(status, branch) if len(runs) == limit else len(runs)
    if fmt is Format.json:
        from greenline import views  # JSON only: the table needs none of it

        emit_json({**views.runs_document(runs), **views.page_fields(total, len(runs))})
    elif runs:
        console.print(render.runs_table(runs))
        more = rows_left_out(len(runs), total, "--limit N lists more")
        if more:
            console.print(more)
    if not runs:
        raise NoDataError(
            "no runs recorded yet" + (" matching the filters" if status or branch else ""),
            hint="record one with: greenline record  (or pytest --greenline-record)",
        )


@run_app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: int = typer.Argument(
        ..., min=1, max=MAX_INT, help="The run's id (see: greenline runs)."
    ),
    all_results: bool = typer.Option(False, "--all", help="List every result, not only failures."),
    limit: int = limit_option("results"),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Show one run: its commit, environment, counts and failing tests.

    The JSON lists every result (not only failures), at most --limit of them."""
    with state_of(ctx).open_reader() as gl:
        run = gl.runs.get_run(run_id)
        results = gl.runs.run_results(run_id)
    if fmt is Format.json:
        from greenline import views

        emit_json(views.cut_list(views.run_document(run, results), "results", limit or None))
        return
    console.print(render.run_header(run))
    chosen = results if all_results else [r for r in results if r.outcome.is_failure]
    shown = chosen[:limit] if limit else chosen
    if shown:
        title = "results" if all_results else f"{len(chosen)} failed attempts"
        console.print(render.results_table(shown, title))
        more = rows_left_out(len(shown), len(chosen), "--limit 0 lists every one")
        if more:
            console.print(more)
