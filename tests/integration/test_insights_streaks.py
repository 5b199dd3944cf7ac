"""The red streaks a window sees, computed from just the runs around it (plus a look back and
ahead for the series that need it), are exactly those of the whole history: checked against a
plain full-history computation on random histories with sparse series, long gaps, reruns and
runs without an end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenline.insights.metrics import Window, prepare, scope
from greenline.model.delivery import Conclusion, WorkflowRun
from greenline.store.warehouse import Warehouse, connect_duckdb
from tests.integration.delivery import workflow_run

START = datetime(2025, 1, 6, tzinfo=UTC)
OUTCOMES = [Conclusion.SUCCESS] * 5 + [Conclusion.FAILURE] * 3 + [Conclusion.CANCELLED]

#: the whole history at once: every outcome ordered per series, streaks between marks
REFERENCE = """
WITH o AS (
  SELECT provider, repository, workflow_key, branch, conclusion, ended,
    lag(conclusion) OVER w AS prev, began, run_id, attempt
  FROM scoped WHERE conclusion IN ('success', 'failure', 'infra_failure')
  WINDOW w AS (PARTITION BY provider, repository, workflow_key, branch
               ORDER BY ended, began, run_id, attempt)
),
marks AS (
  SELECT * FROM o
  WHERE (conclusion <> 'success' AND (prev IS NULL OR prev = 'success'))
     OR (conclusion = 'success' AND prev IS NOT NULL AND prev <> 'success')
)
SELECT repository, workflow_key, branch, red_at, green_at FROM (
  SELECT *, ended AS red_at,
    lead(ended) OVER (PARTITION BY provider, repository, workflow_key, branch
                      ORDER BY ended, began, run_id, attempt) AS green_at
  FROM marks
) WHERE conclusion <> 'success' AND red_at >= ? AND red_at < ?
"""


def history(seed: int) -> list[WorkflowRun]:
    rng = random.Random(seed)
    runs: list[WorkflowRun] = []
    for s in range(30):
        busy = s < 5  # a few series run daily; the rest are sparse, with gaps of months
        branch = "main" if s % 3 == 0 else f"feature/{s}"
        t = START + timedelta(days=rng.uniform(0, 60))
        while t < START + timedelta(days=720):
            conclusion = rng.choice(OUTCOMES)
            minutes = rng.uniform(1, 30)
            ended = None if rng.random() < 0.03 else t + timedelta(minutes=minutes)
            run_id = f"{s}-{len(runs)}"
            runs.append(_run(run_id, 1, s, branch, conclusion, t, ended))
            if conclusion is Conclusion.FAILURE and rng.random() < 0.3:  # a rerun
                later = t + timedelta(minutes=40)
                again = rng.choice([Conclusion.SUCCESS, Conclusion.FAILURE])
                runs.append(_run(run_id, 2, s, branch, again, later, later + timedelta(minutes=9)))
            gap = rng.expovariate(1 / 0.5) if busy else rng.expovariate(1 / 50)
            t += timedelta(days=gap)
    return runs


def _run(
    run_id: str,
    attempt: int,
    s: int,
    branch: str,
    conclusion: Conclusion,
    began: datetime,
    ended: datetime | None,
) -> WorkflowRun:
    return workflow_run(
        run_id,
        conclusion,
        began,
        ended,
        repository=f"acme/r{s % 4}",
        workflow=f"wf{s % 2}",
        branch=branch,
        attempt=attempt,
    )


def _rows(con: Any, sql: str, params: list[Any]) -> set[tuple[Any, ...]]:
    return set(con.execute(sql, params).fetchall())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windowed_streaks_equal_the_whole_history_s(tmp_path: Path, seed: int) -> None:
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(history(seed))
    con = connect_duckdb()
    warehouse.attach(con)
    scope(con)
    now = Window(START + timedelta(days=600), START + timedelta(days=630))
    windows = [now, now.previous(), now.year_ago(), Window(now.since, now.until + timedelta(1))]
    windows.append(Window(START + timedelta(days=200), START + timedelta(days=290)))
    for prepared in (windows, [windows[1]], [windows[2], windows[4]]):
        prepare(con, prepared)
        for window in prepared:
            bounds = [window.since.replace(tzinfo=None), window.until.replace(tzinfo=None)]
            mine = _rows(
                con,
                "SELECT repository, workflow_key, branch, red_at, green_at FROM streaks "
                "WHERE red_at >= ? AND red_at < ?",
                bounds,
            )
            expected = _rows(con, REFERENCE, bounds)
            assert mine == expected and len(expected) > 3, (window, prepared)
    con.close()
