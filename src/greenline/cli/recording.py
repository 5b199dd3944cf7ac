"""``greenline record`` and ``greenline import junit``: putting results into the store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

from greenline import views
from greenline.api.teamserver import upload_junit
from greenline.cli import render
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, err_console, state_of
from greenline.cli.teamserver import SERVER_OPTION, checkout_root, open_server
from greenline.model import CommitInfo


@contextlib.contextmanager
def import_progress(files: list[Path]) -> Iterator[Callable[[Path, int], None] | None]:
    """A live line per file on a terminal (results stored so far); silent otherwise."""
    if not err_console.is_terminal:
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.fields[n]}", markup=False),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        tasks: dict[Path, TaskID] = {}

        def update(path: Path, stored: int) -> None:
            if path not in tasks:
                tasks[path] = progress.add_task(render.sanitize(f"importing {path.name}"), n="")
            progress.update(tasks[path], n=f"{stored} results")

        yield update


import_app = typer.Typer(help="Import results produced by other tools.", no_args_is_help=True)


def record(ctx: typer.Context) -> None:
    """Run pytest with recording on: greenline record [-- PYTEST_ARGS...]

    Stores every test's outcome, duration and function-level coverage; exits with pytest's code.
    """
    with state_of(ctx).open_api() as gl:
        outcome = gl.runs.record(list(ctx.args))
    if outcome.run is None:
        err_console.print("greenline: pytest stored no run (see its output above)")
    else:
        console.print(render.run_header(outcome.run))
    raise typer.Exit(outcome.exit_code)


@import_app.command("junit")
def import_junit(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="JUnit XML reports of one test run."),
    commit: str | None = typer.Option(None, help="Commit the run tested (default: HEAD)."),
    branch: str | None = typer.Option(None, help="Branch the run tested (default: current)."),
    fmt: Format = FORMAT_OPTION,
    server: str | None = SERVER_OPTION,
) -> None:
    """Store JUnit XML reports (pytest, Ant/Jenkins, Maven Surefire, ...) as one run.

    Every file is read before anything is kept: a malformed or hostile file stores nothing.
    With --server the reports go to the team server (a write token in GREENLINE_TOKEN), as a
    run of this checkout's commit unless --commit says otherwise.
    """
    if server:
        with open_server(ctx, server) as client:
            doc = upload_junit(client, checkout_root(ctx), files, commit=commit, branch=branch)
        if fmt is Format.json:
            emit_json(doc)
        else:
            run = doc["run"]
            counts = ", ".join(f"{n} {k}" for k, n in sorted(run["counts"].items()))
            where = f"run {run['id']} on {client.display_url}"
            console.print(render.plain(f"{where}: {run['tests']} tests ({counts})"))
        return
    given = CommitInfo(sha=commit, branch=branch) if commit or branch else None
    with state_of(ctx).open_api() as gl:
        with import_progress(files) as on_progress:
            run = gl.runs.import_junit(files, commit=given, on_progress=on_progress)
        gl.housekeeping.apply_retention(datetime.now(UTC))
    if fmt is Format.json:
        emit_json(views.run_document(run, None))
    else:
        console.print(render.run_header(run))
