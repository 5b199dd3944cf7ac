"""What ``--help`` shows: no value type for flags, the MCP server's tools from the server."""

from __future__ import annotations

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
