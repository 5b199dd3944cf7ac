"""``greenline db upgrade|info``: the store's schema and size."""

from __future__ import annotations

import typer
from rich.table import Table

from greenline import views
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, state_of

db_app = typer.Typer(help="Manage the store.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Migrate the store to this greenline's schema (forward only; no data is dropped)."""
    state = state_of(ctx)
    with state.open_api(migrate=False) as gl:
        before, after = gl.runs.upgrade_store()
    if before == after:
        console.print(f"store {gl.store.display_url} is up to date (revision {after})")
    else:
        console.print(f"store {gl.store.display_url} upgraded: {before or 'empty'} -> {after}")


@db_app.command("info")
def info(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Where the store is, its schema revision and how many rows it holds."""
    with state_of(ctx).open_reader() as gl:
        data = gl.runs.db_info()
    if fmt is Format.json:
        emit_json(views.db_info_document(data))
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key in ("url", "dialect", "repository", "revision", "head", "up_to_date"):
        table.add_row(key, str(data[key]))
    rows = data["rows"]
    assert isinstance(rows, dict)
    for name, count in rows.items():
        table.add_row(f"rows: {name}", str(count))
    console.print(table)
