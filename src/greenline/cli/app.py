"""The Typer application: global options and the wiring of every command group.

Imported only when a command runs (``greenline --version`` answers without it): importing it
loads Typer, rich, SQLAlchemy and the api.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperOption

from greenline import __version__
from greenline.cli.baseline import baseline_app
from greenline.cli.configuration import config_app
from greenline.cli.database import db_app
from greenline.cli.flaky import flaky_app
from greenline.cli.flaky_verify import verify_patch_command
from greenline.cli.insights import insights_app
from greenline.cli.mcp_server import McpCommand, serve_mcp
from greenline.cli.queue import queue_app
from greenline.cli.ranking import ranking_app
from greenline.cli.recording import import_app, record
from greenline.cli.recovery import culprit_command, revert_command, triage_command
from greenline.cli.runs import list_runs, run_app
from greenline.cli.selecting import select_tests
from greenline.cli.server import serve, token_app
from greenline.cli.sharded import attach as attach_sharded_run
from greenline.cli.split import split_command
from greenline.cli.state import CliState
from greenline.cli.tests import list_tests, test_app

app = typer.Typer(
    name="greenline",
    help="Record, select and de-flake tests so CI keeps pace with the changes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"greenline {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", metavar="URL", help="Store URL (default: the repository's SQLite file)."
    ),
    repo: Path | None = typer.Option(
        None, "--repo", help="The repository to work on (default: the current directory)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = CliState(db=db, repo=repo, debug=debug)


app.command("runs")(list_runs)
app.command("tests")(list_tests)
app.command("record", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    record
)
app.command("mcp", cls=McpCommand)(serve_mcp)
app.command("select")(select_tests)
app.command("split")(split_command)
app.command("serve")(serve)
app.add_typer(token_app, name="token")
app.command("triage")(triage_command)
app.command("culprit")(culprit_command)
app.command("revert")(revert_command)
attach_sharded_run(run_app)
app.add_typer(run_app, name="run")
app.add_typer(test_app, name="test")
app.add_typer(import_app, name="import")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(baseline_app, name="baseline")
app.add_typer(ranking_app, name="ranking")
flaky_app.command("verify")(verify_patch_command)
app.add_typer(flaky_app, name="flaky")
app.add_typer(insights_app, name="insights")
app.add_typer(queue_app, name="queue")


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value, so help shows no type for it (Typer would show ``<bool>``)."""
    return None if self.is_flag else _typed(self, ctx)


_typed = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]
