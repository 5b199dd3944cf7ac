"""``pytest --greenline-select``: most likely to fail first, or pytest's own order if asked."""

from __future__ import annotations

import pytest

from tests.plugin.test_select import edit, recorded, run_selected

__all__ = ["recorded"]  # the fixture, used by name


def ran(result: pytest.RunResult) -> list[str]:
    return [line.split(" ")[0] for line in result.stdout.lines if " PASSED" in line]


@pytest.fixture
def changed(recorded: pytest.Pytester) -> pytest.Pytester:
    """test_mul is affected, and test_more.py (collected after it) is new: likely-first runs
    the unseen test first."""
    edit(recorded, "return a * b", "return a * b * 1")
    recorded.makepyfile(test_more="import app\n\ndef test_more():\n    assert app.add(1, 1) == 2\n")
    return recorded


def test_likely_first_is_the_default_and_says_so(changed: pytest.Pytester) -> None:
    result = run_selected(changed, "deselect", "-v")
    assert ran(result) == ["test_more.py::test_more", "test_app.py::test_mul"]
    result.stdout.fnmatch_lines(["greenline: 2 of 5 tests*(deselect, most likely to fail first)"])


def test_keep_runs_the_selected_tests_in_pytests_order(changed: pytest.Pytester) -> None:
    result = run_selected(changed, "deselect", "-v", "--greenline-select-order=keep")
    result.assert_outcomes(passed=2, deselected=3)
    assert ran(result) == ["test_app.py::test_mul", "test_more.py::test_more"]
    result.stdout.fnmatch_lines(["greenline: 2 of 5 tests*(deselect, in pytest's order)"])


def test_the_order_can_be_a_setting(changed: pytest.Pytester) -> None:
    (changed.path / "pyproject.toml").write_text('[tool.greenline]\nselection_order = "keep"\n')
    result = run_selected(changed, "reorder", "-v")
    assert ran(result)[:2] == ["test_app.py::test_mul", "test_more.py::test_more"]
    result.stdout.fnmatch_lines(["greenline: 2 of 5 tests*(reorder, in pytest's order)"])
    flag = run_selected(changed, "deselect", "-v", "--greenline-select-order=likely-first")
    assert ran(flag) == ["test_more.py::test_more", "test_app.py::test_mul"], "the flag wins"
    (changed.path / "pyproject.toml").write_text('[tool.greenline]\nselection_order = "random"\n')
    bad = run_selected(changed, "deselect")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*selection_order = 'random': expected one of: likely-first, keep*"])
