"""greenline flaky fix on a real project: a verified patch for an order-dependent test, and no
patch at all where none holds."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import init_repo

VICTIM = "test_one.py::test_reads_the_default"

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        settings="MODE = 'default'\n",
        test_one='''
        import settings

        def test_reads_the_default():
            """The mode starts as the default."""
            assert settings.MODE == "default"
        ''',
        test_two="""
        import settings

        def test_switches_mode():
            settings.MODE = "fast"

        def test_resets_mode():
            settings.MODE = "default"
            assert settings.MODE == "default"
        """,
        test_three="""
        from pathlib import Path

        def test_every_other_run():
            toggle = Path(__file__).with_name("toggle.txt")
            odd = not toggle.exists()
            toggle.write_text("x") if odd else toggle.unlink()
            assert not odd
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    return pytester


def greenline(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", "flaky", *args)


def test_an_order_dependent_test_gets_its_cleaners_reset(project: pytest.Pytester) -> None:
    result = greenline(project, "fix", VICTIM, "--apply", "-f", "json")
    assert result.ret == 0, result.stderr.str()
    doc = json.loads(result.stdout.str())
    assert doc["fixed"] and doc["verified_runs"] == 60 and doc["applied"]
    assert doc["test"]["polluters"] == ["test_two.py::test_switches_mode"]
    assert doc["patch"]["path"] == "test_one.py"
    diff = doc["patch"]["diff"]
    assert diff.startswith("--- a/test_one.py\n+++ b/test_one.py\n")
    assert "+    settings.MODE = 'default'" in diff
    added = [line for line in diff.splitlines() if line.startswith("+")]
    assert not any("assert" in line for line in added), "a fix never adds or weakens asserts"
    after = (project.path / "test_one.py").read_text()
    assert '"""The mode starts as the default."""' in after
    assert 'assert settings.MODE == "default"' in after, "its assertion is untouched"
    run = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "test_two.py::test_switches_mode", VICTIM
    )
    run.assert_outcomes(passed=2)


def test_no_patch_is_offered_when_none_holds(project: pytest.Pytester) -> None:
    result = greenline(project, "fix", "test_three.py::test_every_other_run")
    assert result.ret == 1
    result.stderr.fnmatch_lines(
        ["greenline: no verified fix for test_three.py::test_every_other_run (*)", "  - *"]
    )
    assert result.stdout.str() == ""
    steady = greenline(project, "fix", "test_two.py::test_resets_mode")
    assert steady.ret == 5
    steady.stderr.fnmatch_lines(["*is stable in * runs: nothing to fix*"])


def test_apply_refuses_a_test_file_that_resolves_outside_the_repository(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "test_one.py"
    victim = project.path / "test_one.py"
    outside.write_text(victim.read_text())
    victim.unlink()
    victim.symlink_to(outside)
    before = outside.read_text()
    result = greenline(project, "fix", VICTIM, "--apply", "--verify-runs", "10")
    assert result.ret == 4, result.stdout.str()
    err = result.stderr.str()
    assert "outside the repository" in err and "Hint:" in err
    assert outside.read_text() == before, "nothing is written outside the repository"
