"""Outside strings (test ids, failure messages, error messages) print as the text they are.

Real recordings of a real project: ids with brackets must not be read as markup, a message with
``[/etc]`` must not crash a table, and escape sequences must not reach the terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import git

ESC = "\x1b"
PROJECT = """
import pytest


@pytest.mark.parametrize("op", ["and", "or"])
def test_op(op):
    assert op == "and", "bad [/etc] \\x1b[2J\\x1b]0;owned\\x07 op"
"""
LONG_ID = "x" * 150


@pytest.fixture
def recorded(cli: Cli, git_repo: Path) -> Cli:
    (git_repo / "test_ops.py").write_text(PROJECT)
    (git_repo / "test_long.py").write_text(
        f"import pytest\n\n@pytest.mark.parametrize('v', [1], ids=['{LONG_ID}'])\n"
        "def test_v(v):\n    pass\n"
    )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "tests")
    assert cli("record", "--", "-q", "-p", "no:cacheprovider").code == 1
    return cli


def assert_plain(out: str) -> None:
    assert ESC not in out and "\x07" not in out, "control characters reached the terminal"


def test_bracketed_ids_stay_apart(recorded: Cli, git_repo: Path) -> None:
    listed = recorded("tests")
    assert listed.code == 0
    assert "test_ops.py::test_op[and]" in listed.out
    assert "test_ops.py::test_op[or]" in listed.out
    history = recorded("test", "history", "test_ops.py::test_op[or]")
    assert history.code == 0, history.err
    assert "history of test_ops.py::test_op[or]" in history.out
    assert "bad [/etc] \\x1b[2J" in history.out
    assert_plain(history.out)
    flaky = recorded("flaky", "list")
    assert "test_ops.py::test_op[or]" in flaky.out
    (git_repo / "test_ops.py").write_text(PROJECT.replace('"and", "or"', '"and", "or", "xor"'))
    selected = recorded("select", "--explain")
    assert selected.code == 0, selected.err
    assert "test_ops.py::test_op[and]" in selected.out
    assert "test_ops.py::test_op[or]" in selected.out
    assert "test_ops.py::test_op[and]" in recorded("select").out


def test_a_message_with_markup_and_escapes_shows_as_text(recorded: Cli) -> None:
    shown = recorded("run", "show", "1")
    assert shown.code == 0, shown.err
    assert "bad [/etc] \\x1b[2J\\x1b]0;owned\\x07 op" in shown.out
    assert_plain(shown.out)


def test_error_messages_with_markup_print_as_given(cli: Cli, git_repo: Path) -> None:
    bad = cli("runs", "--status", "[/oops]")
    assert bad.code == 4
    assert "'[/oops]' is not one of" in bad.err
    (git_repo / "pyproject.toml").write_text('[tool.greenline]\n"[/bold]" = 1\n')
    unknown = cli("runs")
    assert unknown.code == 4
    assert "[tool.greenline]: unknown key '[/bold]'" in unknown.err


def test_nothing_folds_outside_a_terminal(recorded: Cli) -> None:
    long_id = f"test_long.py::test_v[{LONG_ID}]"
    lines = recorded("tests").out.splitlines()
    assert any(long_id in line for line in lines), "a long id was folded"
