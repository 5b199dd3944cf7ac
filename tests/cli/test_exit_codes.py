"""Usage and config mistakes exit 4 with one located line and a Hint, --debug or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

HUGE = "99999999999999999999999"


def assert_usage(result_code: int, err: str, where: str) -> None:
    assert result_code == 4, err
    lines = [line for line in err.splitlines() if line.startswith("greenline: error:")]
    assert len(lines) == 1 and where in lines[0], err
    assert "Hint: " in err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize(
    "args, where",
    [
        (["runs", "--limit", HUGE], "--limit"),
        (["run", "show", HUGE], "run_id"),
        (["tests", "--slowest", HUGE], "--slowest"),
        (["test", "history", "tests.test_cart::test_add", "-n", HUGE], "--limit"),
        (["insights", "metrics", "--days", HUGE], "--days"),
    ],
)
def test_huge_numbers_are_usage_errors(imported: Cli, args: list[str], where: str) -> None:
    result = imported(*args)
    assert_usage(result.code, result.err, where)


@pytest.mark.parametrize(
    "toml, where",
    [
        ("[tool]\ngreenline = 3\n", "[tool.greenline] must be a table"),
        ("tool = 3\n", "[tool] must be a table"),
        ("[tool.greenline]\nalways_run = 3\n", "always_run = 3"),
    ],
)
def test_a_malformed_tool_table_is_a_config_error(
    cli: Cli, git_repo: Path, toml: str, where: str
) -> None:
    (git_repo / "pyproject.toml").write_text(toml)
    result = cli("config", "show")
    assert_usage(result.code, result.err, where)
    assert str(git_repo / "pyproject.toml") in result.err


def test_debug_shows_the_traceback_and_keeps_the_exit_code(imported: Cli, git_repo: Path) -> None:
    missing = imported("--debug", "run", "show", "99")
    assert missing.code == 5
    assert "Traceback" in missing.err and "NoDataError" in missing.err
    assert "greenline: error: no run with id 99" in missing.err
    (git_repo / "pyproject.toml").write_text("[tool.greenline]\nnope = 1\n")
    bad = imported("--debug", "runs")
    assert bad.code == 4
    assert "Traceback" in bad.err and "unknown key 'nope'" in bad.err


def test_version_loads_no_command_module(git_repo: Path) -> None:
    probe = (
        "import sys\n"
        "from greenline.cli.main import run_cli\n"
        "code = run_cli(['--version'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'sqlalchemy'})\n"
        "print(code, heavy, 'greenline.api' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=git_repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.stdout.splitlines() == ["greenline 0.1.0", "0 [] False"]
    full = subprocess.run(
        [sys.executable, "-m", "greenline", "--debug", "--version"],
        cwd=git_repo,
        capture_output=True,
        text=True,
    )
    assert (full.returncode, full.stdout) == (0, "greenline 0.1.0\n")
