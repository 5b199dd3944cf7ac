"""A package greenline itself depends on, broken (under development in the same environment):
``select`` still answers by failing open (everything runs, one line says why), the pytest
plugin runs every test, and other commands stop with one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import init_repo


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import rich`` and ``import sqlalchemy`` fail."""
    shadow = tmp_path / "shadow"
    for name in ("rich", "sqlalchemy"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ImportError('{name} is mid-edit')\n")
    return {**os.environ, "PYTHONPATH": str(shadow), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_select_fails_open_and_other_commands_stop_cleanly(
    git_repo: Path, broken: dict[str, str]
) -> None:
    ids = run(git_repo, broken, "-m", "greenline", "select", "-f", "ids")
    assert ids.returncode == 0 and ids.stdout == ""
    assert "greenline: running every test: greenline cannot load" in ids.stderr
    assert "Traceback" not in ids.stderr
    doc = json.loads(run(git_repo, broken, "-m", "greenline", "select", "-f", "json").stdout)
    assert doc["full_suite"]["kind"] == "full-suite" and doc["selected"] == []
    runs = run(git_repo, broken, "-m", "greenline", "runs")
    assert runs.returncode == 3 and "Traceback" not in runs.stderr
    assert "greenline: error: greenline cannot load: ImportError" in runs.stderr
    assert "Hint:" in runs.stderr


def test_the_plugin_runs_every_test_when_greenline_cannot_load(
    tmp_path: Path, broken: dict[str, str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_a.py").write_text("def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    init_repo(project)
    result = run(
        project,
        broken,
        "-m",
        "pytest",
        "-q",
        "-p",
        "greenline",
        "-p",
        "no:cacheprovider",
        "--greenline-select=deselect",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # selection reads the store without SQLAlchemy or rich, so it gets as far as the store
    # (there is none here) and says so; either way every test runs, with one line why
    said = result.stdout + result.stderr
    assert "greenline: running every test: no greenline store at" in said
