"""The plugin recording unchanged code again: the second run stores no coverage rows of its own
(it shares the first run's) and reads back the same coverage; once the code changes, the next
run's coverage is its own again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.store.schema import coverage, runs
from tests.conftest import git
from tests.plugin.conftest import coverage_of


def sharing(project: pytest.Pytester) -> dict[int, tuple[int | None, int]]:
    """Per run: the run whose coverage it shares, and its own coverage rows."""
    with Greenline.open(project.path) as gl, gl.store.read() as conn:
        count = sa.select(coverage.c.run_id, sa.func.count()).group_by(coverage.c.run_id)
        rows = {int(r): int(n) for r, n in conn.execute(count)}
        return {
            int(run_id): (owner, int(rows.get(run_id, 0)))
            for run_id, owner in conn.execute(sa.select(runs.c.id, runs.c.coverage_of))
        }


def test_recording_unchanged_code_again_shares_the_coverage(project: pytest.Pytester) -> None:
    for _ in range(2):
        project.runpytest_subprocess("--greenline-record").assert_outcomes(passed=4)
    (first, (none, rows)), (second, (owner, own)) = sorted(sharing(project).items())
    assert none is None and rows == 4
    assert owner == first and own == 0
    assert coverage_of(project.path, second) == coverage_of(project.path, first)

    app = project.path / "app.py"
    app.write_text(app.read_text().replace("return a * b", "return b * a"))
    git(project.path, "commit", "-qam", "mul, the other way round")
    project.runpytest_subprocess("--greenline-record").assert_outcomes(passed=4)
    third, (owner, own) = max(sharing(project).items())
    assert owner is None and own == 4
    mul = coverage_of(project.path, third)["test_app.py::test_mul"].blocks
    before = coverage_of(project.path, first)["test_app.py::test_mul"].blocks
    assert {b.name for b in mul} == {b.name for b in before}
    assert mul != before  # mul's fingerprint changed
