"""Options shared by every command (--db, --repo, --debug) and the way commands open the api."""

from __future__ import annotations

import enum
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

if TYPE_CHECKING:
    from greenline.api import Greenline
    from greenline.cli.render import PlainConsole


class ConsoleOnDemand:
    """A ``PlainConsole``, made on first use: rich loads only when a command prints through a
    console (``select --format ids`` and JSON output write to stdout without one)."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: PlainConsole | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from greenline.cli.render import PlainConsole

            self._console = PlainConsole(stderr=self._stderr)
        return getattr(self._console, name)


console = cast("PlainConsole", ConsoleOnDemand())
err_console = cast("PlainConsole", ConsoleOnDemand(stderr=True))


class Format(enum.StrEnum):
    text = "text"
    json = "json"


FORMAT_OPTION = typer.Option(Format.text, "--format", "-f", help="Output format.")


def limit_option(what: str) -> Any:
    """``--limit N``: at most N rows of ``what`` (text and JSON alike), 0 for every one."""
    return typer.Option(
        DEFAULT_ROWS,
        "--limit",
        "-n",
        min=0,
        max=MAX_COUNT,
        metavar="N",
        help=f"Show at most N {what} (0: all); the output says how many were left out.",
    )


def rows_left_out(shown: int, total: int, hint: str) -> str | None:
    """The line under a cut table: how many rows it left out, and how to see them."""
    if shown >= total:
        return None
    return f"{shown} of {total} shown; {total - shown} more: {hint}"


#: The largest id an option takes: what the store holds (a 64-bit integer), so a bigger one is
#: a usage error naming the option, not an overflow deep in the database driver.
MAX_INT = 2**63 - 1
#: The largest count (runs, results, workers): far beyond any real use, and readable in help.
MAX_COUNT = 10**9
#: How many rows a listing shows unless --limit says otherwise (0: every one).
DEFAULT_ROWS = 50
#: The longest window in days a command looks back (a century: dates stay in range).
MAX_DAYS = 36_500


#: ``greenline --pretty``: indent JSON output even when stdout is no terminal.
PRETTY: ContextVar[bool] = ContextVar("greenline_pretty", default=False)
#: What came after ``--`` on the command line (arguments for pytest), set by run_cli.
PASSTHROUGH: ContextVar[tuple[str, ...]] = ContextVar("greenline_passthrough", default=())


def split_passthrough(positional: list[str]) -> tuple[list[str], list[str]]:
    """A command's positional arguments, split into its own and pytest's (after ``--``):
    click hands both over as one list."""
    after = list(PASSTHROUGH.get())
    if after and positional[-len(after) :] == after:
        return positional[: -len(after)], after
    return positional, []


@dataclass
class CliState:
    db: str | None = None
    repo: Path | None = None
    debug: bool = False

    def open_api(
        self,
        *,
        migrate: bool = True,
        create: bool = True,
        flags: dict[str, object] | None = None,
    ) -> Greenline:
        from greenline.api import Greenline  # loads with the first command that opens it

        return Greenline.open(self.repo, db=self.db, migrate=migrate, create=create, flags=flags)

    def open_reader(self) -> Greenline:
        """For read commands: a missing local store is "no data", not a new empty file."""
        return self.open_api(create=False)


def state_of(ctx: typer.Context) -> CliState:
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    return state


#: JSON bigger than this is written compact even on a terminal: indenting makes Python's
#: encoder fall back from C to pure Python, seconds for the metrics of a large history
PRETTY_LIMIT = 1_000_000


#: a top-level list longer than this is written an item at a time (compact JSON only)
STREAM_ITEMS = 1000


def emit_json(document: dict[str, Any]) -> None:
    """Machine output: one JSON document on stdout, whole; compact (one line) when stdout is
    not a terminal, as a pipe or a file wants it, and indented on a terminal or when
    ``greenline --pretty`` asks. A long list (a release's 64,000 selected tests) is written
    an item at a time, so the document's text is never held whole: the same bytes."""
    from greenline import views

    if _wants_indent():
        text = views.dump_json(document)
        if len(text) < PRETTY_LIMIT:
            text = views.dump_json(document, indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    write = sys.stdout.write
    write("{")
    for i, (key, value) in enumerate(document.items()):
        write((", " if i else "") + views.dump_json(key) + ": ")
        if isinstance(value, list) and len(value) > STREAM_ITEMS:
            write("[")
            for j, item in enumerate(value):
                write((", " if j else "") + views.dump_json(item))
            write("]")
        else:
            write(views.dump_json(value))
    write("}\n")
    sys.stdout.flush()


def _wants_indent() -> bool:
    return PRETTY.get() or sys.stdout.isatty()
