"""Helpers for recording real pytest runs of small projects made with pytester."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.model import Run, TestCoverage, TestResult
from greenline.store import reads

APP = """
def add(a, b):
    return a + b


def mul(a, b):
    return a * b


class Greeter:
    def greet(self, name):
        return f"hello {name}"
"""


def run_and_results(root: Path, run_id: int | None = None) -> tuple[Run, list[TestResult]]:
    with Greenline.open(root) as gl:
        run = gl.runs.get_run(run_id) if run_id else gl.runs.list_runs(limit=1)[0]
        return run, gl.runs.run_results(run.id)


def coverage_of(root: Path, run_id: int) -> dict[str, TestCoverage]:
    with Greenline.open(root) as gl, gl.store.read() as conn:
        return {tc.test_id: tc for tc in reads.run_coverage(conn, run_id)}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A small git project: app.py and its tests."""
    from tests.conftest import init_repo

    pytester.makepyfile(app=APP)
    pytester.makepyfile(
        test_app="""
        import app

        def test_add():
            assert app.add(1, 2) == 3

        def test_mul():
            assert app.mul(2, 3) == 6

        def test_greet():
            assert app.Greeter().greet("x") == "hello x"

        def test_nothing():
            assert True
        """
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    return pytester
