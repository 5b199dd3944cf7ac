"""What the quick commands load: ``greenline --help``, ``runs`` and ``select`` import neither
SQLAlchemy nor Alembic, nor Typer's pydantic coercion or markdown, nor the capabilities they do
not call (their start-up is what a CI step or a coding agent waits for at every call). Not
timed: the benchmark measures the time; this keeps what makes it short."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import DATA, Cli
from tests.conftest import git, init_repo

#: Loaded by none of the quick commands (each only by the commands that use it).
HEAVY = (
    "sqlalchemy",
    "alembic",
    "pydantic",
    "httpx",
    "mcp",
    "fastapi",
    "greenline.web",
    "greenline.mcp",
    "greenline.store.reads",
    "greenline.store.writes",
    "greenline.api.flaky",
    "greenline.api.insights",
    "greenline.api.queue",
    "greenline.api.recovery",
    "greenline.cli.flaky",
    "greenline.cli.queue",
    "greenline.junit",
    "markdown_it",  # Typer's help imports rich.markdown, used only for markdown help text
    "pygments",
)

PROBE = """\
import contextlib, io, sys
from greenline.cli.main import run_cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = run_cli(sys.argv[1:])
heavy = [m for m in {heavy!r} if m in sys.modules]
print(code, heavy, bool(out.getvalue().strip()))
"""


def loaded(cwd: Path, *args: str) -> str:
    """``greenline ARGS`` in a fresh interpreter: its exit code, the heavy modules it loaded,
    and whether it printed anything."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")},
    )
    return proc.stdout.strip()


def test_help_loads_no_command_module(git_repo: Path) -> None:
    assert loaded(git_repo, "--help") == "0 [] True"
    assert loaded(git_repo) == "4 [] True"  # no arguments: the help, as a usage error


def test_runs_reads_the_store_without_sqlalchemy(imported: Cli, git_repo: Path) -> None:
    assert loaded(git_repo, "runs") == "0 [] True"
    assert loaded(git_repo, "runs", "--format", "json", "-n", "1") == "0 [] True"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A project with a recorded baseline (coverage per test), and a change to its code."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (project / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    init_repo(project)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--greenline-record"],
        cwd=project,
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")},
    )
    (project / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    assert git(project, "status", "--porcelain") == "M calc.py"
    return project


def test_select_plans_without_sqlalchemy(recorded: Path) -> None:
    assert loaded(recorded, "select", "--format", "ids") == "0 [] True"
    assert loaded(recorded, "select", "--explain") == "0 [] True"


def test_a_write_still_loads_what_it_needs(git_repo: Path) -> None:
    report = str(DATA / "pytest_xunit2.xml")
    code, heavy = loaded(git_repo, "import", "junit", report).split(" ", 1)
    assert code == "0" and "sqlalchemy" in heavy and "greenline.junit" in heavy
