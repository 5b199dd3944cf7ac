"""Delivery metrics where the simple reading goes wrong: a fix that ends before the failure it
follows, two workflows of one name, a branch red since before the window, a streak whose runs
were created before the window, a run that waited longer than a week, empty and partial weeks,
and the two sets of definitions (real DuckDB over real Parquet files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenline.forge import github
from greenline.insights.metrics import Figures, Window, figures, prepare, scope
from greenline.insights.summary import health, summarise
from greenline.model.delivery import Conclusion, WorkflowRun
from greenline.store.warehouse import Warehouse, connect_duckdb
from tests.integration.delivery import workflow_run

S, F, K = Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.SKIPPED
SINCE = datetime(2026, 3, 4, tzinfo=UTC)  # a Wednesday
WINDOW = Window(SINCE, SINCE + timedelta(days=7))
H = timedelta(hours=1)


def run(n: int, conclusion: Conclusion, began: datetime, hours: float, **kw: Any) -> WorkflowRun:
    return workflow_run(str(n), conclusion, began, began + hours * H, **kw)


def summary(
    tmp_path: Path,
    runs: list[WorkflowRun],
    definitions: str = "greenline",
    window: Window = WINDOW,
) -> dict[str, Any]:
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(runs)
    con = connect_duckdb()
    try:
        warehouse.attach(con)
        scope(con, definitions=definitions)
        return summarise(con, window, definitions=definitions)
    finally:
        con.close()


def test_a_fix_that_ends_before_the_failure_never_gives_a_negative_recovery(
    tmp_path: Path,
) -> None:
    runs = [
        run(1, F, SINCE + H, 6),  # starts first, ends last: red at 07:00
        run(2, S, SINCE + 2 * H, 1),  # ends at 03:00, before the failure it follows
        run(3, S, SINCE + 8 * H, 1),  # the first success after the failure ended: 09:00
    ]
    main = summary(tmp_path, runs)["overall"]["default"]
    assert (main["recoveries"], main["recovery_mean_s"]) == (1, 2 * 3600.0)
    assert main["longest_red_s"] == 2 * 3600.0


def test_two_workflows_named_ci_are_two_series_shown_apart(tmp_path: Path) -> None:
    def gh(n: int, path: str, conclusion: str, hour: int) -> dict[str, Any]:
        at = f"2026-03-04T{hour:02d}:00:00Z"
        return {
            "id": n,
            "name": "CI",
            "path": path,
            "head_branch": "main",
            "status": "completed",
            "conclusion": conclusion,
            "created_at": at,
            "run_started_at": at,
            "updated_at": f"2026-03-04T{hour:02d}:30:00Z",
            "repository": {"full_name": "acme/shop", "default_branch": "main"},
        }

    a, b = ".github/workflows/a.yml", ".github/workflows/b.yml"
    page = {
        "workflow_runs": [gh(1, a, "failure", 1), gh(2, b, "success", 2), gh(3, a, "success", 3)]
    }
    batch = github.read_page(page, "runs.json", None, [])
    assert {r.workflow_id for r in batch.runs} == {a, b}
    doc = summary(tmp_path, batch.runs)
    rows = {w["workflow_label"]: w for w in doc["workflows"]}
    assert sorted(rows) == [f"CI ({a})", f"CI ({b})"]
    assert rows[f"CI ({a})"]["recoveries"] == 1, "b's success did not end a's streak"
    assert rows[f"CI ({a})"]["recovery_mean_s"] == 2 * 3600.0
    assert (rows[f"CI ({b})"]["runs"], rows[f"CI ({b})"]["workflow"]) == (1, "CI")


def test_a_branch_red_since_before_the_window_is_still_red(tmp_path: Path) -> None:
    runs = [
        run(1, S, SINCE - 30 * 24 * H, 1),
        run(2, F, SINCE - 3 * 24 * H, 1),  # red since before the window ...
        run(3, F, SINCE + 24 * H, 1),  # ... and still red at its end
        run(4, F, SINCE - 20 * 24 * H, 1, branch="feature/gone"),  # red, no run in the window
    ]
    doc = summary(tmp_path, runs)
    assert doc["overall"]["default"]["still_red"] == 1
    assert doc["overall"]["other"]["still_red"] == 1
    assert doc["overall"]["default"]["recoveries"] == 0
    digest = health(doc)
    assert digest["healthy"] is False
    assert [w["workflow"] for w in digest["default_branch"]["still_red"]] == ["ci"]
    assert "1 default-branch workflow(s) are still red." in doc["findings"]


def test_workflow_rows_add_up_to_the_branch_totals(tmp_path: Path) -> None:
    runs = [
        run(1, S, SINCE + H, 0.5),
        # deploy: both runs created before the window, the streak red and green inside it
        run(2, F, SINCE - 0.5 * H, 1, workflow="deploy"),
        run(3, S, SINCE - 0.25 * H, 2, workflow="deploy"),
    ]
    doc = summary(tmp_path, runs)
    main = doc["overall"]["default"]
    rows = [w for w in doc["workflows"] if w["branch_class"] == "default"]
    assert main["recoveries"] == 1
    assert sum(w["recoveries"] for w in rows) == main["recoveries"]
    deploy = next(w for w in rows if w["workflow"] == "deploy")
    assert (deploy["runs"], deploy["recovery_mean_s"]) == (0, 1.25 * 3600)


def test_a_failure_that_waited_longer_than_a_week_starts_its_streak(tmp_path: Path) -> None:
    created = SINCE - 20 * 24 * H  # before the previous window and its margin too
    runs = [
        run(1, S, created - 24 * H, 0.5),
        # queued twenty days (an approval), then failed inside the window
        workflow_run("2", F, SINCE + H, SINCE + 2 * H, created=created),
        run(3, S, SINCE + 3 * H, 1),
    ]
    main = summary(tmp_path, runs)["overall"]["default"]
    assert (main["recoveries"], main["recovery_mean_s"]) == (1, 2 * 3600.0)


def test_every_week_of_the_window_has_a_row_and_partial_weeks_count_their_days(
    tmp_path: Path,
) -> None:
    window = Window(SINCE, SINCE + timedelta(days=15))  # Wed 4 .. Thu 19 March
    runs = [run(1, S, SINCE + H, 1), run(2, S, SINCE + 2 * H, 1), run(3, F, SINCE + 14 * 24 * H, 1)]
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(runs)
    con = connect_duckdb()
    warehouse.attach(con)
    scope(con)
    prepare(con, [window])
    weekly = figures(con, window, ("branch_class",), by_week=True)
    con.close()
    mondays = [datetime(2026, 3, d, tzinfo=UTC) for d in (2, 9, 16)]
    assert sorted(weekly) == [("default", m) for m in mondays]
    assert weekly[("default", mondays[0])].throughput_per_day == pytest.approx(2 / 5)  # Wed-Sun
    assert weekly[("default", mondays[1])] == Figures(), "an empty week: no runs, no rates"
    assert weekly[("default", mondays[2])].throughput_per_day == pytest.approx(1 / 3)  # Mon-Wed
    assert weekly[("default", mondays[2])].still_red == 1


def test_the_report_definitions_count_skipped_runs_and_time_from_creation(
    tmp_path: Path,
) -> None:
    queued = SINCE + H
    runs = [
        workflow_run("1", S, queued + H, queued + 2 * H, created=queued),  # waited an hour
        run(2, F, SINCE + 5 * H, 1),
        run(3, K, SINCE + 6 * H, 0),
        run(4, S, SINCE + 7 * H, 1),
    ]
    ours = summary(tmp_path / "a", runs)
    report = summary(tmp_path / "b", runs, "report")
    assert ours["definitions"]["name"] == "greenline"
    assert report["definitions"]["name"] == "report"
    assert "completed - cancelled" in report["definitions"]["success_rate"]
    main, theirs = ours["overall"]["default"], report["overall"]["default"]
    assert (main["success_rate"], main["rated"], main["skipped"]) == (2 / 3, 3, 1)
    assert (theirs["success_rate"], theirs["rated"]) == (2 / 4, 4)
    assert main["duration_p95_s"] == 3600.0
    assert theirs["duration_p95_s"] == pytest.approx(3600 + 0.9 * 3600)  # of 1h, 1h, 2h
    assert (
        "(2 of 4, cancelled runs aside; skipped ones count as not successful)"
        in (report["findings"][0])
    )
