"""Delivery metrics on small histories computed by hand: cancelled runs, reruns, runs without
an end time, overlapping failures, time zones and empty windows (real DuckDB over real Parquet
files in a temp warehouse)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenline.insights.metrics import Figures, Window, figures, prepare, scope
from greenline.insights.summary import summarise
from greenline.model.delivery import Conclusion, WorkflowRun
from greenline.store.warehouse import Warehouse, connect_duckdb
from tests.integration.delivery import workflow_run

S, F, C = Conclusion.SUCCESS, Conclusion.FAILURE, Conclusion.CANCELLED
DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
ONE_DAY = Window(DAY, DAY + timedelta(days=1))
TWO_WEEKS = Window(DAY, DAY + timedelta(days=14))
EMPTY = Window(DAY - timedelta(days=400), DAY - timedelta(days=399))


def at(text: str) -> datetime:
    """``HH:MM`` on DAY in UTC, or a full ISO time with its own zone."""
    if len(text) == 5:
        return DAY.replace(hour=int(text[:2]), minute=int(text[3:]))
    return datetime.fromisoformat(text)


def run(
    n: int,
    conclusion: Conclusion,
    start: str,
    end: str | None,
    *,
    workflow: str = "ci",
    branch: str = "main",
    attempt: int = 1,
    run_id: str | None = None,
) -> WorkflowRun:
    return workflow_run(
        run_id or str(n),
        conclusion,
        at(start),
        at(end) if end else None,
        workflow=workflow,
        branch=branch,
        attempt=attempt,
    )


HISTORY = [
    run(1, S, "10:00", "10:10"),
    run(2, F, "11:00", "11:20"),  # main turns red at 11:20
    run(3, C, "11:30", "11:35"),  # cancelled: a run, but no outcome
    run(4, F, "12:00", "12:05"),  # still red: the same streak
    run(5, S, "12:30", "12:40", attempt=2, run_id="4"),  # a rerun of run 4 recovers: 80 min
    run(6, S, "13:00", None),  # no end time: no duration
    # 16:00 in UTC+2 is 14:00 UTC: red at 14:10 UTC
    run(7, F, "2026-03-02T16:00:00+02:00", "2026-03-02T16:10:00+02:00"),
    run(8, S, "15:00", "15:30"),  # recovers: 80 min again
    run(9, F, "16:00", "16:05"),  # still red when the data ends
    run(10, F, "09:00", "09:30", workflow="deploy"),  # another workflow: its own streak
    run(11, S, "10:00", "10:02", branch="feature/x"),
    run(12, F, "10:30", "10:33", branch="feature/x"),
]


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    warehouse = Warehouse(tmp_path / "insights")
    warehouse.ingest(HISTORY)
    con = connect_duckdb()
    warehouse.attach(con)
    scope(con, {"workflow": "ci"})
    prepare(con, [ONE_DAY, TWO_WEEKS, EMPTY])
    yield con
    con.close()


def test_the_default_branch_figures_match_the_hand_computation(con) -> None:  # type: ignore[no-untyped-def]
    main = figures(con, ONE_DAY, ("branch_class",))[("default",)]
    assert main == Figures(
        runs=9,  # cancelled and rerun included: throughput counts every run
        successes=4,
        failures=4,
        cancelled=1,
        throughput_per_day=9.0,
        success_rate=0.5,  # 4 of the 8 that ended; the cancelled one is in neither part
        duration_p50_s=600.0,  # of 300, 300, 600, 600, 600, 1200, 1800 (run 6 has no end)
        duration_p95_s=pytest.approx(1620.0),  # 1200 + 0.7 * (1800 - 1200)
        failed_run_seconds=2400.0,  # 1200 + 300 + 600 + 300
        recoveries=2,
        recovery_mean_s=4800.0,  # 11:20 -> 12:40 and 14:10 -> 15:30 (UTC)
        recovery_p50_s=4800.0,
        recovery_p95_s=4800.0,
        still_red=1,
        longest_red_s=(7 * 60 + 55) * 60.0,  # 16:05 to the window's end at midnight
        rated=8,
    )


def test_feature_branches_and_other_workflows_are_their_own_series(con) -> None:  # type: ignore[no-untyped-def]
    other = figures(con, ONE_DAY, ("branch_class",))[("other",)]
    assert (other.runs, other.success_rate, other.still_red, other.recoveries) == (2, 0.5, 1, 0)
    scope(con)
    prepare(con, [ONE_DAY])  # every workflow: deploy's failure is a streak of its own, not ci's
    per = figures(con, ONE_DAY, ("workflow_key", "branch_class"))
    assert per[("deploy", "default")].still_red == 1
    assert per[("ci", "default")].recoveries == 2


def test_empty_windows_and_weeks(con) -> None:  # type: ignore[no-untyped-def]
    assert figures(con, EMPTY) == {(): Figures()}, "zero runs, no rates"
    weekly = figures(con, TWO_WEEKS, ("branch_class",), by_week=True)
    later = DAY + timedelta(days=7)
    assert sorted(weekly) == [
        ("default", DAY),
        ("default", later),
        ("other", DAY),
        ("other", later),
    ]
    assert weekly[("default", DAY)].throughput_per_day == pytest.approx(9 / 7)
    assert weekly[("default", later)] == Figures(still_red=1), "an empty week, still red"


def test_the_summary_compares_windows_and_states_findings(con) -> None:  # type: ignore[no-untyped-def]
    doc = summarise(con, ONE_DAY)
    main = doc["overall"]["default"]
    assert main["previous"]["runs"] == 0 and main["change_vs_previous"]["throughput"] is None
    assert doc["two_speed"] == {"basis": "previous", "feature_growth": None, "default_growth": None}
    assert doc["most_failing_workflows"][0] == {
        "repository": "acme/shop",
        "workflow": "ci",
        "workflow_id": "ci",
        "workflow_label": "ci",
        "branch_class": "default",
        "failures": 4,
        "runs": 9,
    }
    assert doc["findings"][:3] == [
        "The default branch succeeds in 50.0% of runs (4 of 8, cancelled and skipped runs aside), "
        "below "
        "the 90% benchmark and below the 2026 median of 70.8%.",
        "Recovery takes 1h20m on average (2 red streaks recovered, mostly in workflow `ci`), "
        "over the 60-minute benchmark (2026 median: 72 minutes).",
        "1 default-branch workflow(s) are still red.",
    ]
    later = summarise(con, ONE_DAY.shifted(-timedelta(days=1)))
    assert later["overall"]["default"]["change_vs_previous"]["throughput"] == -1.0
