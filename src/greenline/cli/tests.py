"""``greenline tests`` and ``greenline test history``: tests across the store's history."""

from __future__ import annotations

import typer

from greenline import views
from greenline.cli import render
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    Format,
    console,
    emit_json,
    limit_option,
    rows_left_out,
    state_of,
)
from greenline.errors import NoDataError

test_app = typer.Typer(help="Look at one test.", no_args_is_help=True)


def list_tests(
    ctx: typer.Context,
    slowest: int | None = typer.Option(
        None,
        "--slowest",
        min=1,
        max=MAX_COUNT,
        metavar="N",
        help="The N slowest tests by mean duration.",
    ),
    failing: bool = typer.Option(False, "--failing", help="Only tests whose last result failed."),
    limit: int = limit_option("tests"),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """List tests with their run count, failures, mean duration and last outcome."""
    with state_of(ctx).open_reader() as gl:
        summaries = gl.runs.list_tests(slowest=slowest, failing=failing)
    shown = summaries[:limit] if limit else summaries
    if fmt is Format.json:
        doc = views.tests_document(shown)
        doc.update(views.page_fields(len(summaries), len(shown)))
        emit_json(doc)
    elif summaries:
        title = f"{len(summaries)} tests" + (" failing now" if failing else "")
        if slowest:
            title = f"the {len(summaries)} slowest tests" + (" failing now" if failing else "")
        console.print(render.tests_table(shown, title))
        more = rows_left_out(len(shown), len(summaries), "--limit 0 lists every one")
        if more:
            console.print(more)
    elif failing:
        console.print("no test is failing in its latest run")
    if not summaries and not failing:
        raise NoDataError("no test results recorded yet", hint="record a run: greenline record")


@test_app.command("history")
def show_history(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="A test id: a pytest node id or classname::name."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=MAX_COUNT, help="How many results."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Every recorded result of one test, newest first."""
    with state_of(ctx).open_reader() as gl:
        entries = gl.runs.test_history(test_id, limit=limit)
    if fmt is Format.json:
        emit_json(views.history_document(test_id, entries))
    else:
        console.print(render.history_table(test_id, entries))
