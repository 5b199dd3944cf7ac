"""The CLI on hostile or odd input: JSON output stays JSON, revisions resolve, secrets stay
masked in what was stored before masking began."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.store.schema import results, runs
from tests.cli.conftest import DATA, Cli
from tests.conftest import git


def strict_json(text: str) -> Any:
    """Parse as any JSON parser would: Python's json reads NaN and Infinity, which are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def write_report(path: Path, time: str) -> Path:
    path.write_text(
        '<testsuite name="s"><testcase classname="pkg.Mod" name="t" time="0.5"/>'
        f'<testcase classname="pkg.Mod" name="u" time="{time}"/></testsuite>'
    )
    return path


@pytest.mark.parametrize("time", ["inf", "nan"])
def test_a_non_finite_time_is_refused_on_import(cli: Cli, tmp_path: Path, time: str) -> None:
    result = cli("import", "junit", str(write_report(tmp_path / "r.xml", time)))
    assert result.code == 4
    assert result.err.count("greenline: error:") == 1
    assert f'r.xml:1: refused: time="{time}" is not a finite number of seconds' in result.err
    assert "Hint:" in result.err and "Traceback" not in result.err
    assert cli("runs").code == 5, "nothing of the refused report was stored"


def test_json_views_stay_json_over_a_store_written_before_the_checks(
    cli: Cli, git_repo: Path
) -> None:
    assert cli("import", "junit", str(write_report(git_repo / "r.xml", "1.0"))).code == 0
    with Greenline.open(git_repo) as gl, gl.store.write() as conn:
        conn.execute(sa.update(results).values(duration=float("inf")))
        conn.execute(sa.update(runs).values(args="--greenline-db=postgresql://u:hunter2@h/db"))
    listed = cli("runs", "-f", "json")
    assert listed.code == 0
    (run,) = strict_json(listed.out)["runs"]
    assert run["args"] == "--greenline-db=postgresql://u:***@h/db"
    shown = strict_json(cli("run", "show", str(run["id"]), "-f", "json").out)
    assert [r["duration"] for r in shown["results"]] == [None, None]
    assert "hunter2" not in listed.out + json.dumps(shown)


def test_import_resolves_the_commit_given(cli: Cli, git_repo: Path) -> None:
    first = git(git_repo, "rev-parse", "HEAD")
    (git_repo / "b.txt").write_text("b\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "second")
    for rev in ("HEAD~1", first[:8]):
        doc = cli("import", "junit", str(DATA / "ant.xml"), "--commit", rev, "-f", "json").json()
        assert doc["run"]["commit"]["sha"] == first
        assert doc["run"]["commit"]["subject"] == "initial commit"


@pytest.mark.parametrize("rev", ["no-such-branch", "c" * 40, "--output=x"])
def test_import_refuses_an_unknown_commit(cli: Cli, rev: str) -> None:
    result = cli("import", "junit", str(DATA / "ant.xml"), f"--commit={rev}")
    assert result.code == 4
    assert f"unknown revision {rev!r}" in result.err and "Hint:" in result.err
    assert cli("runs").code == 5
