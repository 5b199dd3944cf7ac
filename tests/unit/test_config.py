from __future__ import annotations

from pathlib import Path

import pytest

from greenline.config import load_settings
from greenline.errors import ConfigError


def write_pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.greenline]\n{body}\n")


def test_defaults_without_pyproject(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings.database_url == f"sqlite:///{tmp_path / '.greenline' / 'greenline.db'}"
    assert settings.values["database_url"].source == "default"
    assert settings.coverage_exclude == ()


def test_precedence_pyproject_then_env_then_flag(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'database_url = "sqlite:///from-pyproject.db"')
    settings = load_settings(tmp_path, env={})
    assert settings.database_url == "sqlite:///from-pyproject.db"
    assert settings.values["database_url"].source == "pyproject.toml"

    env = {"GREENLINE_DATABASE_URL": "sqlite:///from-env.db"}
    settings = load_settings(tmp_path, env=env)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.values["database_url"].source == "env GREENLINE_DATABASE_URL"

    settings = load_settings(tmp_path, env=env, flags={"database_url": "sqlite:///flag.db"})
    assert settings.database_url == "sqlite:///flag.db"
    assert settings.values["database_url"].source == "flag"


def test_unset_flag_does_not_override(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'database_url = "sqlite:///p.db"')
    settings = load_settings(tmp_path, env={}, flags={"database_url": None})
    assert settings.database_url == "sqlite:///p.db"


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'databse_url = "sqlite:///x.db"')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={})
    assert "unknown key 'databse_url'" in info.value.message
    assert str(tmp_path / "pyproject.toml") in info.value.message
    assert info.value.hint == "did you mean 'database_url'?"
    assert info.value.exit_code == 4


def test_unknown_key_without_close_match_lists_known_keys(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "zzz = 1")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={})
    assert info.value.hint is not None
    assert "database_url" in info.value.hint


def test_wrong_type_is_located(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "coverage_exclude = 3")
    with pytest.raises(ConfigError, match=r"coverage_exclude = 3: expected a list"):
        load_settings(tmp_path, env={})


def test_patterns_from_env_are_comma_separated(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"GREENLINE_COVERAGE_EXCLUDE": "gen/*, vendor/*"})
    assert settings.coverage_exclude == ("gen/*", "vendor/*")


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.greenline\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path, env={})
