"""The Typer application: global options, and every command group, loaded when it is called.

``COMMANDS`` names each command and group with the one line ``greenline --help`` shows for it
and the module it lives in: ``--help`` lists them from the table, and a command line imports
only the module of the command it runs (``greenline runs`` loads neither the merge queue nor
the flaky-test machinery, nor what they import). A test keeps the table's lines equal to the
commands' own help.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from greenline import __version__
from greenline.cli import params
from greenline.cli.state import CliState


@dataclass(frozen=True)
class Entry:
    """A command (a function) or a group (a Typer app, or a function returning one)."""

    help: str
    target: str  # "module:attribute"
    group: bool = False
    command_class: str | None = None  # "module:attribute" of a click command class
    pass_extra_args: bool = False  # the command hands unknown options on (to pytest)


CLI = "greenline.cli"
#: Every command and group, in the order --help lists them, with the first paragraph of its
#: help exactly as the command states it (tests/cli/test_help.py compares the two).
COMMANDS: dict[str, Entry] = {
    "runs": Entry("List recorded runs, newest first.", f"{CLI}.runs:list_runs"),
    "tests": Entry(
        "List tests with their run count, failures, mean duration and last outcome.",
        f"{CLI}.tests:list_tests",
    ),
    "record": Entry(
        "Run pytest with recording on: greenline record [-- PYTEST_ARGS...]",
        f"{CLI}.recording:record",
        pass_extra_args=True,
    ),
    "mcp": Entry(
        "Run the MCP server (stdio by default) for coding agents.",
        f"{CLI}.mcp_server:serve_mcp",
        command_class=f"{CLI}.mcp_server:McpCommand",
    ),
    "select": Entry(
        "Select the tests the change since the baseline can break, most likely to fail first.",
        f"{CLI}.selecting:select_tests",
    ),
    "split": Entry(
        "Print this shard's tests, one per line: pytest $(greenline split --shards 4 --index 0)",
        f"{CLI}.split:split_command",
    ),
    "serve": Entry(
        "Run the team server: the REST API under /api/v1 (OpenAPI at /api/v1/openapi.json), "
        "the\n"
        "MCP server at /mcp, /healthz and /readyz, over the store given by --db (PostgreSQL for "
        "a\n"
        "team). Flags win over GREENLINE_SERVER_* and the server_* settings in pyproject.toml.",
        f"{CLI}.server:serve",
    ),
    "triage": Entry(
        "Why each failing test of a run failed: infra, setup, quarantined, flaky, already\n"
        "failing, a regression of the change (with the files that connect it), suspect flaky or\n"
        "unknown. Tests of one failure signature are grouped. With --fix: the whole way back to\n"
        "green for this branch's newest red run.",
        f"{CLI}.recovery:triage_command",
    ),
    "culprit": Entry(
        "Which first-parent commit in (good, bad] broke the tests, or none (they are flaky):\n"
        "probes run the tests at chosen commits in worktrees, rerun where flakiness demands, "
        "and the\n"
        "culprit is confirmed (its parent passes, it fails) before it is named.",
        f"{CLI}.recovery:culprit_command",
    ),
    "revert": Entry(
        "Create branch greenline/revert-<sha> reverting COMMIT on HEAD, verified: the failing\n"
        "tests pass there and the tests of the files it changes stay green. Your branch and "
        "main\n"
        "never move.",
        f"{CLI}.recovery:revert_command",
    ),
    "token": Entry("API tokens for the team server.", f"{CLI}.server:token_app", group=True),
    "run": Entry("Look at one run.", f"{CLI}.app:run_commands", group=True),
    "test": Entry("Look at one test.", f"{CLI}.tests:test_app", group=True),
    "import": Entry(
        "Import results produced by other tools.", f"{CLI}.recording:import_app", group=True
    ),
    "config": Entry("Inspect greenline's settings.", f"{CLI}.configuration:config_app", group=True),
    "db": Entry("Manage the store.", f"{CLI}.database:db_app", group=True),
    "baseline": Entry(
        "Move a baseline run between machines (e.g. a CI cache artifact).",
        f"{CLI}.baseline:baseline_app",
        group=True,
    ),
    "ranking": Entry(
        "How selected tests are ordered: the heuristic, or a model learned from history.",
        f"{CLI}.ranking:ranking_app",
        group=True,
    ),
    "flaky": Entry(
        "Flaky tests: found in history, explained, quarantined.",
        f"{CLI}.app:flaky_commands",
        group=True,
    ),
    "insights": Entry(
        "Delivery insights: throughput, duration, success rate and recovery, against the "
        "benchmarks.",
        f"{CLI}.insights:insights_app",
        group=True,
    ),
    "queue": Entry(
        "Merge queue: land many changes fast, keep main green.",
        f"{CLI}.queue:queue_app",
        group=True,
    ),
    "review": Entry(
        "Review digest of the change since --base: the changed functions and the tests that ran\n"
        "each, those no test runs, the tests most likely to fail, flaky tests in its path and "
        "open\ncode-quality findings in its files.",
        f"{CLI}.review:review_command",
    ),
    "backstage": Entry(
        "Print catalog-info.yaml entities: the MCP server (kind API, spec.type mcp-server, with\n"
        "its remote URL) and the repository (kind Component), for a Backstage catalog.",
        f"{CLI}.backstage:backstage_command",
    ),
    "init": Entry(
        "Set greenline up in CI: write the provider's configuration.",
        f"{CLI}.init:init_app",
        group=True,
    ),
    "github": Entry(
        "GitHub: greenline's verdicts on a commit as check runs.",
        f"{CLI}.github:github_app",
        group=True,
    ),
}


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_command(name: str, entry: Entry) -> Any:
    """The click command for ``entry``, built by Typer as if it were registered on the app."""
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.callback()(lambda: None)  # a group, whatever it holds
    target = _resolve(entry.target)
    if entry.group:
        holder.add_typer(target if isinstance(target, typer.Typer) else target(), name=name)
    else:
        settings: dict[str, Any] = {}
        if entry.command_class:
            settings["cls"] = _resolve(entry.command_class)
        if entry.pass_extra_args:
            settings["context_settings"] = {
                "allow_extra_args": True,
                "ignore_unknown_options": True,
            }
        holder.command(name, **settings)(target)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


class LazyCommands(MutableMapping[str, Any]):
    """The app's commands by name: each is built from ``COMMANDS`` when first looked up."""

    def __init__(self, table: dict[str, Entry]) -> None:
        self.table = table
        self.loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in self.table:
                raise KeyError(name)
            self.loaded[name] = load_command(name, self.table[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]
        self.table = {k: v for k, v in self.table.items() if k != name}

    def __iter__(self) -> Iterator[str]:
        yield from self.table
        yield from (name for name in self.loaded if name not in self.table)

    def __len__(self) -> int:
        return len(self.table.keys() | self.loaded.keys())


class LazyGroup(TyperGroup):
    """The root group: commands load on use; its help lists them from the table."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMANDS)
        self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        entry = commands.table.get(cmd_name)
        if self._listing and entry is not None and cmd_name not in commands.loaded:
            return TyperCommand(name=cmd_name, help=entry.help)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: Typer's own reads every command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        load_rich_help()
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


#: What Typer's rich help module imports and uses only in modes greenline leaves off: Markdown
#: for the markdown markup mode, Traceback for pretty exceptions. Loading the two (markdown-it,
#: pygments, rich's pretty-printer) costs ``greenline --help`` more than the rest of its screen.
DEFERRED_RICH = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def load_rich_help() -> None:
    """Import ``typer.rich_utils`` with stand-ins for the modules of DEFERRED_RICH; a stand-in
    class hands any use over to the real one (imported then, the stand-in gone by then)."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {
        module: _stand_in(module, name)
        for module, name in DEFERRED_RICH.items()
        if module not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


def _stand_in(module: str, name: str) -> types.ModuleType:
    """A module whose ``name`` is a class standing for ``module.name``."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    class Deferred(type):
        def __getattr__(cls, attribute: str) -> Any:  # Traceback.from_exception, …
            return getattr(real(), attribute)

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

    stand_in = types.ModuleType(module)
    setattr(stand_in, name, Deferred(name, (), {}))
    return stand_in


def run_commands() -> typer.Typer:
    """``greenline run``: ``show``, and the suite itself split over shards with --shards."""
    from greenline.cli.runs import run_app
    from greenline.cli.sharded import attach

    if run_app.registered_callback is None:
        attach(run_app)
    return run_app


def flaky_commands() -> typer.Typer:
    """``greenline flaky``, with ``verify`` (its own module) among its commands."""
    from greenline.cli.flaky import flaky_app
    from greenline.cli.flaky_verify import verify_patch_command

    if not any(c.name == "verify" for c in flaky_app.registered_commands):
        flaky_app.command("verify")(verify_patch_command)
    return flaky_app


app = typer.Typer(
    name="greenline",
    help="Record, select and de-flake tests so CI keeps pace with the changes.",
    cls=LazyGroup,
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


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value, so help shows no type for it (Typer would show ``<bool>``)."""
    return None if self.is_flag else _typed(self, ctx)


_typed = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]
params.install()
