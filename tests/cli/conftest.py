"""Running the real CLI in-process and capturing what a user would see."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from greenline.cli.main import run_cli

DATA = Path(__file__).parent.parent / "data" / "junit"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Outcome]


@pytest.fixture
def cli(git_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli("runs", "--format", "json")`` runs greenline in the test's git repository."""
    monkeypatch.chdir(git_repo)
    # captured output is no terminal: the consoles print at full width, as in a pipe
    monkeypatch.delenv("GREENLINE_DATABASE_URL", raising=False)

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = run_cli(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def imported(cli: Cli) -> Cli:
    """The repository's store holds two JUnit runs (pytest's and Surefire's)."""
    assert cli("import", "junit", str(DATA / "pytest_xunit2.xml")).code == 0
    assert cli("import", "junit", str(DATA / "surefire.xml"), "--branch", "feature").code == 0
    return cli
