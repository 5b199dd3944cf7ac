"""Delivery metrics across windows, computed by hand: a red streak that began long before the
window (found by looking back past the window's margin), one that recovers only in a later
window (found by looking ahead), a branch whose very first run fails, year-over-year change,
the two-speed comparison and per-job figures (real DuckDB over real Parquet files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenline.insights.metrics import Figures, Window, figures, prepare, scope
from greenline.insights.summary import summarise
from greenline.model.delivery import Conclusion, WorkflowJob, WorkflowRun
from greenline.store.warehouse import Warehouse, connect_duckdb
from tests.integration.delivery import workflow_run

S, F = Conclusion.SUCCESS, Conclusion.FAILURE
NOW = Window(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
PREVIOUS = NOW.previous()  # 2026-02-23 .. 2026-03-02
YEAR_AGO = NOW.year_ago()  # 2025-03-03 .. 2025-03-10 (52 weeks earlier)


def run(
    n: int, conclusion: Conclusion, start: str, minutes: int, branch: str = "main"
) -> WorkflowRun:
    began = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return workflow_run(
        str(n),
        conclusion,
        began,
        began + timedelta(minutes=minutes),
        repository="acme/api",
        branch=branch,
    )


HISTORY = [
    run(1, F, "2025-12-01 10:00", 10),  # streak A turns red, months before anything else
    run(2, F, "2026-02-24 10:00", 10),  # still A (not a new streak: the run before was red)
    run(3, S, "2026-02-24 12:00", 10),  # A recovers, but it began before the window
    run(4, F, "2026-03-01 20:00", 30),  # streak B: red at 20:30, in the previous window
    run(5, S, "2026-03-02 09:00", 10),  # B recovers at 09:10 the next day: 12h40m
    run(6, F, "2026-03-03 10:00", 5),  # streak C: red at 10:05
    run(7, S, "2026-03-03 11:00", 5),  # C recovers at 11:05: one hour
    run(8, F, "2026-03-04 10:00", 10, "feature/x"),  # a new branch's first run fails
    run(12, F, "2026-02-25 10:00", 10, "feature/old"),  # red in the previous window ...
    run(13, S, "2026-04-10 10:00", 10, "feature/old"),  # ... green 44 days later
    run(9, S, "2025-03-04 10:00", 10),  # a year earlier: two main runs, one feature run
    run(10, S, "2025-03-04 11:00", 10),
    run(11, S, "2025-03-05 10:00", 10, "feature/y"),
]


def job(run_id: str, name: str, conclusion: Conclusion, start: str, minutes: int) -> WorkflowJob:
    began = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return WorkflowJob(
        provider="github",
        repository="acme/api",
        run_id=run_id,
        attempt=1,
        job_id=f"{run_id}-{name}",
        name=name,
        conclusion=conclusion,
        started_at=began,
        finished_at=began + timedelta(minutes=minutes),
    )


JOBS = [
    job("6", "test", F, "2026-03-03 10:00", 4),
    job("6", "lint", S, "2026-03-03 10:00", 1),
    job("7", "test", S, "2026-03-03 11:00", 5),
    job("7", "lint", S, "2026-03-03 11:00", 1),
    job("2", "test", F, "2026-02-24 10:00", 9),  # the previous window's: not in NOW's ranking
]


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    warehouse = Warehouse(tmp_path / "insights")
    warehouse.ingest(HISTORY, JOBS)
    con = connect_duckdb()
    warehouse.attach(con)
    scope(con)
    yield con
    con.close()


def test_streaks_are_exact_whatever_the_windows_read(con) -> None:  # type: ignore[no-untyped-def]
    prepare(con, [PREVIOUS])  # B's recovery lies after this window: found by looking ahead
    alone = figures(con, PREVIOUS, ("branch_class",))
    assert alone[("other",)].recovery_mean_s == 44 * 86400.0
    alone = alone[("default",)]
    prepare(con, [NOW, PREVIOUS, YEAR_AGO])  # one stretch of runs holds both ends
    together = figures(con, PREVIOUS, ("branch_class",))[("default",)]
    assert (
        alone
        == together
        == Figures(
            runs=3,
            successes=1,
            failures=2,
            throughput_per_day=3 / 7,
            success_rate=1 / 3,
            duration_p50_s=600.0,
            duration_p95_s=pytest.approx(1680.0),  # of 600, 600, 1800: 600 + 0.9 * (1800 - 600)
            failed_run_seconds=2400.0,
            recoveries=1,  # B only: run 2's failure continues A, which began in December
            recovery_mean_s=45600.0,
            recovery_p50_s=45600.0,
            recovery_p95_s=45600.0,
            still_red=1,  # B turned green only after the window's end
            longest_red_s=45600.0,
            rated=3,
        )
    )
    # the feature branch red in the previous window recovered long after it
    old = figures(con, PREVIOUS, ("branch_class",))[("other",)]
    assert (old.recoveries, old.recovery_mean_s, old.still_red) == (1, 44 * 86400.0, 1)
    now = figures(con, NOW, ("branch_class",))
    assert (now[("default",)].recoveries, now[("default",)].recovery_mean_s) == (1, 3600.0)
    # feature/x's first run ever failed: a streak, still red at the end; feature/old has been
    # red since the previous window, with no run in this one: still red too
    feature = now[("other",)]
    assert (feature.recoveries, feature.still_red) == (0, 2)
    assert feature.longest_red_s == (5 * 86400 - 10 * 3600 - 10 * 60)  # to Mar 9, 00:00


def test_figures_need_their_window_prepared(con) -> None:  # type: ignore[no-untyped-def]
    prepare(con, [NOW])
    with pytest.raises(ValueError, match="did not cover"):
        figures(con, YEAR_AGO)


def test_year_over_year_and_the_two_speed_comparison(con) -> None:  # type: ignore[no-untyped-def]
    doc = summarise(con, NOW)
    main, feature = doc["overall"]["default"], doc["overall"]["other"]
    assert (main["runs"], main["year_ago"]["runs"]) == (3, 2)
    assert (feature["runs"], feature["year_ago"]["runs"]) == (1, 1)
    assert main["change_vs_year_ago"]["throughput"] == pytest.approx(0.5)  # 3 runs vs 2
    assert main["change_vs_year_ago"]["success_rate"] == pytest.approx(-1 / 3)  # 2/3 vs 1
    assert main["change_vs_previous"]["throughput"] == 0.0  # 3 runs in both weeks
    assert main["change_vs_previous"]["success_rate"] == pytest.approx(1.0)  # 2/3 vs 1/3
    # a year of history: growth is measured against the same week a year ago
    assert doc["two_speed"] == {
        "basis": "year_ago",
        "feature_growth": 0.0,
        "default_growth": pytest.approx(0.5),
    }


def test_jobs_are_ranked_by_duration_and_by_failures(con) -> None:  # type: ignore[no-untyped-def]
    doc = summarise(con, NOW)
    assert doc["slowest_jobs"] == [
        {
            "repository": "acme/api",
            "job": "test",
            "runs": 2,
            "duration_p50_s": 270.0,
            "failures": 1,
        },
        {"repository": "acme/api", "job": "lint", "runs": 2, "duration_p50_s": 60.0, "failures": 0},
    ]
    assert doc["most_failing_jobs"] == [
        {"repository": "acme/api", "job": "test", "runs": 2, "duration_p50_s": 270.0, "failures": 1}
    ]
