"""Running a command line through the Typer app, with the one error path.

Every failure ends as one ``greenline: error:`` line (plain text: messages quote ids, paths and
TOML keys) and a ``Hint:``, with the exit code of its class; ``--debug`` prints the traceback
first and keeps the exit code, so a script sees the same code with and without it.
"""

from __future__ import annotations

import sys

import typer

from greenline.cli.app import app
from greenline.cli.state import PASSTHROUGH, err_console
from greenline.errors import GreenlineError

EXIT_USAGE = 4
EXIT_INTERRUPTED = 2
EXIT_INTERNAL = 3


def print_error(message: str, hint: str | None = None) -> None:
    from rich.text import Text

    from greenline.cli.render import plain

    line = Text.assemble(("greenline: error:", "bold red"), " ", plain(message))
    err_console.print(line, soft_wrap=True)
    if hint:
        err_console.print(Text.assemble("Hint: ", plain(hint)), soft_wrap=True)


def _usage_hint(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "greenline"
    return f"see: {command} --help"


def _report(exc: BaseException, debug: bool) -> int:
    """Print ``exc`` as one error line and a hint; its exit code."""
    if debug and not isinstance(exc, typer.TyperException | KeyboardInterrupt | typer.Abort):
        import traceback  # only --debug shows one

        traceback.print_exception(exc)
    if isinstance(exc, GreenlineError):
        print_error(exc.message, exc.hint)
        return exc.exit_code
    if isinstance(exc, typer.Abort | KeyboardInterrupt):
        print_error("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, typer.TyperException):  # click's usage errors (typer vendors click)
        format_message = getattr(exc, "format_message", None)
        print_error(format_message() if format_message else str(exc), _usage_hint(exc))
        return EXIT_USAGE
    if _is_store_error(exc):
        print_error(f"store error: {str(exc).splitlines()[0]}", "rerun with --debug for details")
        return EXIT_INTERNAL
    # a bug of ours: one line, and the way to see more
    print_error(f"internal error: {type(exc).__name__}: {exc}", "rerun with --debug and report it")
    return EXIT_INTERNAL


def _is_store_error(exc: BaseException) -> bool:
    """An error of SQLAlchemy's (only possible once a command has loaded it)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


def run_guarded(args: list[str]) -> int:
    """Run ``args`` (without the program name) and return the exit code."""
    debug = "--debug" in args
    PASSTHROUGH.set(tuple(args[args.index("--") + 1 :]) if "--" in args else ())
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="greenline", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (Exception, KeyboardInterrupt) as exc:
        return _report(exc, debug)
    return int(result) if isinstance(result, int) else 0
