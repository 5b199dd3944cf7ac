"""The ``greenline`` entry point: global options, command wiring and the one error path.

Every failure a user can cause ends as one ``greenline: error:`` line with a ``Hint:`` and the
exit code of its class (4 usage/config, 5 no data, 3 internal); tracebacks only with --debug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from greenline import __version__
from greenline.cli.baseline import baseline_app
from greenline.cli.configuration import config_app
from greenline.cli.database import db_app
from greenline.cli.flaky import flaky_app
from greenline.cli.insights import insights_app
from greenline.cli.mcp_server import serve_mcp
from greenline.cli.queue import queue_app
from greenline.cli.ranking import ranking_app
from greenline.cli.recording import import_app, record
from greenline.cli.render import plain
from greenline.cli.runs import list_runs, run_app
from greenline.cli.selecting import select_tests
from greenline.cli.state import PASSTHROUGH, CliState, err_console
from greenline.cli.tests import list_tests, test_app
from greenline.errors import GreenlineError

EXIT_USAGE = 4
EXIT_INTERRUPTED = 2
EXIT_INTERNAL = 3

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
app.command("mcp")(serve_mcp)
app.command("select")(select_tests)
app.add_typer(run_app, name="run")
app.add_typer(test_app, name="test")
app.add_typer(import_app, name="import")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(baseline_app, name="baseline")
app.add_typer(ranking_app, name="ranking")
app.add_typer(flaky_app, name="flaky")
app.add_typer(insights_app, name="insights")
app.add_typer(queue_app, name="queue")


def _error(message: str, hint: str | None = None) -> None:
    # messages quote what the user or a file gave (paths, ids, TOML keys): plain text only
    line = Text.assemble(("greenline: error:", "bold red"), " ", plain(message))
    err_console.print(line, soft_wrap=True)
    if hint:
        err_console.print(Text.assemble("Hint: ", plain(hint)), soft_wrap=True)


def _usage_hint(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "greenline"
    return f"see: {command} --help"


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    PASSTHROUGH.set(tuple(args[args.index("--") + 1 :]) if "--" in args else ())
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="greenline", standalone_mode=False)
    except GreenlineError as exc:
        if debug:
            raise
        _error(exc.message, exc.hint)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        format_message = getattr(exc, "format_message", None)
        _error(format_message() if format_message else str(exc), _usage_hint(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except SQLAlchemyError as exc:
        if debug:
            raise
        _error(f"store error: {str(exc).splitlines()[0]}", "rerun with --debug for details")
        return EXIT_INTERNAL
    except Exception as exc:  # a bug of ours: one line, and the way to see more
        if debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc}", "rerun with --debug and report it")
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else 0


def entry_point() -> None:
    sys.exit(run_cli())
