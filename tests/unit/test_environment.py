from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest

from greenline.tracing.environment import installed_packages, read_environment


def test_lists_installed_distributions() -> None:
    names = installed_packages()
    assert any(n.startswith("pytest-") and n.endswith(".dist-info") for n in names)
    assert any(n.startswith("sqlalchemy-") for n in names)


def test_fingerprint_changes_when_a_package_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_environment()
    assert before.python.startswith(sys.implementation.name)
    assert before == read_environment()
    (tmp_path / "newpkg-1.0.dist-info").mkdir()
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(tmp_path)])
    assert read_environment().packages_hash != before.packages_hash
    assert read_environment().python == before.python


def test_project_folders_on_sys_path_do_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest adds project folders to sys.path; greenline select does not."""
    before = read_environment()
    (tmp_path / "myproject.egg-info").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert read_environment() == before


def test_same_fingerprint_in_a_fresh_process() -> None:
    code = "from greenline.tracing.environment import read_environment; print(read_environment())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(read_environment())
