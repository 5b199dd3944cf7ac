"""What ``--help`` shows: no value type for flags, the MCP server's tools from the server."""

from __future__ import annotations

import inspect

import pytest

from tests.cli.conftest import Cli


def test_flags_show_no_value_type_in_help(cli: Cli) -> None:
    shown = cli("tests", "--help")
    assert shown.code == 0
    assert "--failing" in shown.out and "--format" in shown.out
    assert "<bool>" not in shown.out
    assert "<text|json>" in shown.out, "options that take a value still show its type"


def test_mcp_help_names_every_tool_of_the_server(cli: Cli) -> None:
    from greenline.mcp.__main__ import list_tools

    names = [name for name, _ in list_tools()]
    assert len(names) >= 10 and "enqueue_change" in names
    shown = cli("mcp", "--help")
    assert shown.code == 0
    text = " ".join(shown.out.split())
    assert all(name in text for name in names), text


def test_help_lists_each_command_as_the_command_itself_says_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--help`` lists the commands from ``COMMANDS`` without loading them: the same screen,
    line for line, as when every command is loaded and lists itself."""
    from greenline.cli.app import COMMANDS, LazyGroup, load_command

    lazy = cli("--help")
    assert lazy.code == 0 and all(name in lazy.out for name in COMMANDS)
    loaded = {name: load_command(name, entry) for name, entry in COMMANDS.items()}
    for name, command in loaded.items():
        said = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert COMMANDS[name].help == said, f"COMMANDS[{name!r}] in cli/app.py: {said!r}"
    # the same screen with the real commands (loaded) in the listing
    monkeypatch.setattr(LazyGroup, "get_command", lambda self, ctx, name: loaded.get(name))
    assert cli("--help").out == lazy.out
