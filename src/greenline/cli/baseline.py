"""``greenline baseline export|import``: carry a baseline to a machine without the store."""

from __future__ import annotations

from pathlib import Path

import typer

from greenline import views
from greenline.cli.state import FORMAT_OPTION, MAX_INT, Format, console, emit_json, state_of

baseline_app = typer.Typer(
    help="Move a baseline run between machines (e.g. a CI cache artifact).", no_args_is_help=True
)


@baseline_app.command("export")
def export_baseline(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Where to write the baseline (gzipped JSON)."),
    run_id: int | None = typer.Option(
        None,
        "--run",
        min=1,
        max=MAX_INT,
        metavar="ID",
        help="Export this run (default: the current baseline).",
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Write the baseline run selection would use (or --run ID) to FILE."""
    with state_of(ctx).open_reader() as gl:
        run = gl.baselines.export(file, run_id)
    if fmt is Format.json:
        emit_json(views.run_document(run, None))
    else:
        sha = (run.commit.sha or "?")[:10]
        size = file.stat().st_size
        console.print(
            f"exported run {run.id} ({sha}, {run.test_count} tests) to {file}: {size} bytes",
            soft_wrap=True,
        )


@baseline_app.command("import")
def import_baseline(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A file made by greenline baseline export."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Store a baseline file as a run (importing the same file twice keeps one copy)."""
    with state_of(ctx).open_api() as gl:
        run, new = gl.baselines.import_file(file)
    if fmt is Format.json:
        emit_json(views.run_document(run, None))
    else:
        what = "imported as" if new else "already in the store as"
        sha = (run.commit.sha or "?")[:10]
        console.print(
            f"baseline at {sha} {what} run {run.id} ({run.test_count} tests)", soft_wrap=True
        )
