"""``greenline record`` and ``greenline import junit``: putting results into the store."""

from __future__ import annotations

from pathlib import Path

import typer

from greenline import views
from greenline.cli import render
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, err_console, state_of
from greenline.model import CommitInfo

import_app = typer.Typer(help="Import results produced by other tools.", no_args_is_help=True)


def record(ctx: typer.Context) -> None:
    """Run pytest with recording on: greenline record [-- PYTEST_ARGS...]

    Stores every test's outcome, duration and function-level coverage; exits with pytest's code.
    """
    with state_of(ctx).open_api() as gl:
        outcome = gl.record(list(ctx.args))
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
) -> None:
    """Store JUnit XML reports (pytest, Ant/Jenkins, Maven Surefire, ...) as one run.

    Every file is read before anything is kept: a malformed or hostile file stores nothing.
    """
    given = CommitInfo(sha=commit, branch=branch) if commit or branch else None
    with state_of(ctx).open_api() as gl:
        run = gl.import_junit(files, commit=given)
    if fmt is Format.json:
        emit_json(views.run_document(run, None))
    else:
        console.print(render.run_header(run))
