"""Delivery metrics over workflow runs, with the 2026 industry report's definitions, computed in
DuckDB over the ``runs`` view the caller attaches (any size: columnar, bounded memory).

- throughput: workflow runs per day, any conclusion (a rerun attempt is a run);
- duration: P50/P95 of wall time (start to end) of runs that ran to an outcome;
- success rate: successful / (all - cancelled), where "all" is runs that ended (runs still
  going and runs that never ran, ``skipped``, count in neither part);
- recovery: a workflow on a branch turns red at the end of a failed run that follows a success
  (or starts its history) and green again at the end of its next successful run there (a
  successful rerun included); failures in between belong to the same red streak. Time to
  recovery is averaged over the streaks that began in the window and have recovered (even after
  it); streaks not recovered yet are counted as still red, and the longest red streak counts
  them up to the window's end.

Times are UTC; a run with no end time counts from its start (or creation) for recovery and has
no duration. Pure computation: SQL over a view, no files or clocks of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from greenline.model.delivery import utc_naive

if TYPE_CHECKING:
    import duckdb

SERIES = ("provider", "repository", "workflow", "branch")
OUTCOMES = "('success', 'failure', 'infra_failure')"
BASE = f"""
SELECT *,
  CASE WHEN default_branch THEN 'default' ELSE 'other' END AS branch_class,
  CASE WHEN started_at IS NOT NULL AND finished_at IS NOT NULL
            AND conclusion IN {OUTCOMES} THEN greatest(epoch(finished_at - started_at), 0) END
    AS duration_s,
  coalesce(finished_at, started_at, created_at) AS ended,
  coalesce(started_at, created_at) AS began
FROM runs
"""


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime  # exclusive

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400

    def shifted(self, delta: timedelta) -> Window:
        return Window(self.since - delta, self.until - delta)

    def previous(self) -> Window:
        return self.shifted(self.until - self.since)

    def year_ago(self) -> Window:
        return self.shifted(timedelta(days=364))  # 52 weeks: weekdays line up


@dataclass(frozen=True, slots=True)
class Figures:
    """The metrics of one slice of runs over one window."""

    runs: int = 0
    successes: int = 0
    failures: int = 0  # failures and infrastructure failures
    cancelled: int = 0
    throughput_per_day: float = 0.0
    success_rate: float | None = None
    duration_p50_s: float | None = None
    duration_p95_s: float | None = None
    failed_run_seconds: float = 0.0  # CI time spent on runs that failed
    recoveries: int = 0
    recovery_mean_s: float | None = None
    recovery_p50_s: float | None = None
    recovery_p95_s: float | None = None
    still_red: int = 0  # streaks that began in the window and have not recovered
    longest_red_s: float | None = None  # open streaks count up to the window's end

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(
    con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> None:
    """Materialise the runs in scope (``where`` filters them) and their red streaks once; every
    window's figures are then read from these two tables."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE scoped AS SELECT * FROM ({BASE}) "
        f"{'WHERE ' + where if where else ''}",
        params or [],
    )
    series = ", ".join(SERIES)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE streaks AS
        WITH o AS (
          SELECT {series}, branch_class, conclusion, ended, began, run_id, attempt,
            lag(conclusion) OVER w AS prev
          FROM scoped WHERE conclusion IN {OUTCOMES}
          WINDOW w AS (PARTITION BY {series} ORDER BY began, run_id, attempt)
        ),
        marks AS (
          SELECT *, conclusion <> 'success' AS starts_red FROM o
          WHERE (conclusion <> 'success' AND (prev IS NULL OR prev = 'success'))
             OR (conclusion = 'success' AND prev IS NOT NULL AND prev <> 'success')
        ),
        paired AS (
          SELECT *, lead(ended) OVER (PARTITION BY {series} ORDER BY began, run_id, attempt)
            AS green_at
          FROM marks
        )
        SELECT {series}, branch_class, ended AS red_at, green_at,
          epoch(green_at - ended) AS recovery_s
        FROM paired WHERE starts_red
        """
    )


def figures(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    groups: tuple[str, ...] = (),
    by_week: bool = False,
) -> dict[tuple[Any, ...], Figures]:
    """Figures per group (columns of ``scoped``, e.g. ``("branch_class",)``) over ``window``;
    ``by_week`` adds the ISO week (Monday, UTC) as the key's last part."""
    run_keys = [*groups, "date_trunc('week', created_at)"] if by_week else list(groups)
    red_keys = [*groups, "date_trunc('week', red_at)"] if by_week else list(groups)
    n = len(run_keys)
    rows = con.execute(
        f"""
        SELECT {_select(run_keys)}
          count(*),
          count(*) FILTER (WHERE conclusion = 'success'),
          count(*) FILTER (WHERE conclusion IN ('failure', 'infra_failure')),
          count(*) FILTER (WHERE conclusion = 'cancelled'),
          quantile_cont(duration_s, 0.5),
          quantile_cont(duration_s, 0.95),
          coalesce(sum(duration_s) FILTER (WHERE conclusion IN ('failure', 'infra_failure')), 0)
        FROM scoped WHERE created_at >= ? AND created_at < ? {_group_by(run_keys)}
        """,
        [utc_naive(window.since), utc_naive(window.until)],
    ).fetchall()
    red = {
        tuple(r[:n]): r[n:]
        for r in con.execute(
            f"""
            SELECT {_select(red_keys)}
              count(recovery_s),
              avg(recovery_s),
              quantile_cont(recovery_s, 0.5),
              quantile_cont(recovery_s, 0.95),
              count(*) FILTER (WHERE green_at IS NULL),
              max(epoch(coalesce(green_at, greatest(?, red_at)) - red_at))
            FROM streaks WHERE red_at >= ? AND red_at < ? {_group_by(red_keys)}
            """,
            [utc_naive(window.until), utc_naive(window.since), utc_naive(window.until)],
        ).fetchall()
    }
    days = 7.0 if by_week else window.days
    out: dict[tuple[Any, ...], Figures] = {}
    for r in rows:
        key = tuple(_aware(v) for v in r[:n])
        runs, ok, bad, cancelled, p50, p95, failed_s = r[n:]
        recovered, mean, r50, r95, still, longest = red.get(
            tuple(r[:n]), (0, None, None, None, 0, None)
        )
        ended = ok + bad
        out[key] = Figures(
            runs=runs,
            successes=ok,
            failures=bad,
            cancelled=cancelled,
            throughput_per_day=runs / days if days else 0.0,
            success_rate=ok / ended if ended else None,
            duration_p50_s=p50,
            duration_p95_s=p95,
            failed_run_seconds=float(failed_s),
            recoveries=int(recovered),
            recovery_mean_s=mean,
            recovery_p50_s=r50,
            recovery_p95_s=r95,
            still_red=int(still),
            longest_red_s=longest,
        )
    return out


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _select(keys: list[str]) -> str:
    return "".join(f"{k}, " for k in keys)


def _group_by(keys: list[str]) -> str:
    return f"GROUP BY {', '.join(keys)}" if keys else ""


def span(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The first and last creation time of the runs in scope."""
    row = con.execute("SELECT min(created_at), max(created_at) FROM scoped").fetchone()
    if not row or row[0] is None:
        return None
    return _aware(row[0]), _aware(row[1])
