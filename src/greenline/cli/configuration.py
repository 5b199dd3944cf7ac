"""``greenline config show``: every setting, its value and where it came from."""

from __future__ import annotations

import typer
from rich.table import Table

from greenline import views
from greenline.api import load_config
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, state_of
from greenline.config import KEYS

config_app = typer.Typer(help="Inspect greenline's settings.", no_args_is_help=True)


@config_app.command("show")
def show_config(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Each setting with its value and source (default < pyproject.toml < env < flag)."""
    state = state_of(ctx)
    values = load_config(state.repo, db=state.db)
    if fmt is Format.json:
        emit_json(views.config_document(values))
        return
    table = Table(title="settings ([tool.greenline] in pyproject.toml)", title_justify="left")
    for column in ("key", "value", "source", "meaning"):
        table.add_column(column)
    for name, value in values.items():
        shown = value.value if value.value not in (None, ()) else "-"
        table.add_row(name, str(shown), value.source, KEYS[name].help)
    console.print(table)
