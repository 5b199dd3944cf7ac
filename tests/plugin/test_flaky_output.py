"""What flaky scans and verdicts tell a person: progress outside a terminal, and why a test
is called ``failing`` (the runs it failed, what its failure said)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import init_repo

BROKEN = """
def test_ok():
    assert True


def test_broken():
    assert 1 == 2, "boom: the cart is empty"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, without_plugin_autoload: None) -> pytest.Pytester:
    pytester.makepyfile(test_cart=BROKEN)
    init_repo(pytester.path)
    return pytester


def greenline(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", *args)


def broken_verdict(doc: dict[str, object]) -> dict[str, object]:
    verdicts = doc["tests"]
    assert isinstance(verdicts, list)
    return next(v for v in verdicts if v["test_id"] == "test_cart.py::test_broken")


def test_a_scan_outside_a_terminal_prints_a_line_per_phase(project: pytest.Pytester) -> None:
    result = greenline(project, "flaky", "scan", "--runs", "2", "-f", "json")
    assert result.ret == 0, result.stderr.str()
    result.stderr.fnmatch_lines(
        ["greenline: reruns (* of * runs done)", "greenline: each failing test alone (*"]
    )
    verdict = broken_verdict(json.loads(result.stdout.str()))
    assert verdict["verdict"] == "failing"
    kinds = [(e["kind"], e["detail"]) for e in verdict["evidence"]]  # type: ignore[attr-defined]
    assert kinds[0][0] == "always-failed" and "controlled runs" in kinds[0][1]
    assert kinds[1] == ("failure-message", "it said: AssertionError: boom: the cart is empty")


def test_a_failing_verdict_from_history_carries_its_evidence(project: pytest.Pytester) -> None:
    for _ in range(2):
        project.runpytest_subprocess("-p", "greenline", "--greenline-record").assert_outcomes(
            passed=1, failed=1
        )
    shown = greenline(project, "flaky", "explain", "test_cart.py::test_broken")
    assert shown.ret == 0, shown.stderr.str()
    shown.stdout.fnmatch_lines(
        [
            "test_cart.py::test_broken: failing*",
            "  - always-failed: failed in all 2 recorded runs [runs 1, 2]",
            "  - failure-message: it said: AssertionError: boom: the cart is empty",
        ]
    )
