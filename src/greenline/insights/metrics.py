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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
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
        # flat fields: a plain read is many times faster than asdict's deep copy, and a
        # history of thousands of workflows asks for tens of thousands of these
        return {name: getattr(self, name) for name in FIGURE_FIELDS}


#: how long a run may wait to start, or run, and still be ordered exactly among its neighbours:
#: the streaks of a window are computed from the runs created from this long before it
QUEUE_MARGIN = timedelta(days=7)


FIGURE_FIELDS = tuple(f.name for f in fields(Figures))


def scope(con: duckdb.DuckDBPyConnection, filters: Mapping[str, str] | None = None) -> None:
    """Create the view ``scoped``: the attached runs, with equality ``filters`` on their columns
    (e.g. ``{"repository": "acme/shop"}``), and the derived columns every metric uses. A view,
    not a copy: each window's queries read only the Parquet row groups of its dates."""
    conditions = [f"{_column(k)} = {_literal(v)}" for k, v in (filters or {}).items()]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW scoped AS SELECT * FROM ({BASE}){where}")


def prepare(con: duckdb.DuckDBPyConnection, windows: Iterable[Window]) -> None:
    """Find the red streaks that matter to ``windows``, reading only the runs around them.

    Each window's runs (from ``QUEUE_MARGIN`` before it) are ordered per series to mark where
    streaks turn red and green. Two things lie outside: whether the run before a window's
    first outcome was red (then a failure there continues an older streak), and when a streak
    still red at a window's end recovers. One pass over the older and newer runs of just the
    series that need it answers both."""
    segments = _segments(windows)
    if not segments:
        raise ValueError("prepare() needs at least one window")
    con.execute("CREATE OR REPLACE TEMP TABLE segs (seg INTEGER, lo TIMESTAMP, hi TIMESTAMP)")
    con.executemany(
        "INSERT INTO segs VALUES (?, ?, ?)",
        [[i, utc_naive(lo), utc_naive(hi)] for i, (lo, hi) in enumerate(segments)],
    )
    bounds = [utc_naive(t) for lo_hi in segments for t in lo_hi]
    sid = f"hash({', '.join(SERIES)})"
    within = " UNION ALL ".join(
        f"SELECT {i} AS seg, * FROM scoped WHERE created_at >= ? AND created_at < ? "
        f"AND conclusion IN {OUTCOMES}"
        for i in range(len(segments))
    )
    # where streaks turn red, and the end of the next success after each (sorting a series
    # key and the order alone: a 64-bit hash of the series, no strings, is what makes this fast)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE marks AS
        SELECT * FROM (
          SELECT seg, sid, red, ended,
            lag(red) OVER w AS prev_red,
            first_value(CASE WHEN NOT red THEN ended END IGNORE NULLS)
              OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS green_at
          FROM (SELECT seg, {sid} AS sid, began, run_id, attempt, ended,
                  conclusion <> 'success' AS red FROM ({within}))
          WINDOW w AS (PARTITION BY seg, sid ORDER BY began, run_id, attempt)
        ) WHERE red AND prev_red IS NOT TRUE
        """,
        bounds,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cands AS
        SELECT seg, sid, bool_or(prev_red IS NULL) AS need_before,
          bool_or(green_at IS NULL) AS need_after
        FROM marks GROUP BY seg, sid HAVING need_before OR need_after
        """
    )
    # one pass over the rest of the history, for just those series: the outcome of the last
    # run before the window and the end of the first success after it (by start time alone:
    # runs of one series starting in the same microsecond, were there any, would be taken in
    # no particular order; comparing one number is what keeps this fast)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE edges AS
        SELECT c.seg, c.sid,
          arg_max(r.red, r.began) FILTER (WHERE c.need_before AND r.created_at < s.lo)
            AS red_before,
          arg_min(r.ended, r.began) FILTER (WHERE c.need_after AND r.created_at >= s.hi
                                              AND NOT r.red) AS green_after
        FROM cands c JOIN segs s USING (seg)
        JOIN (SELECT {sid} AS sid, created_at, began, ended, conclusion <> 'success' AS red
              FROM scoped WHERE conclusion IN {OUTCOMES}) r USING (sid)
        WHERE r.created_at < s.lo OR r.created_at >= s.hi
        GROUP BY c.seg, c.sid
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE streaks AS
        WITH names AS (
          SELECT sid, {", ".join(f"any_value({c}) AS {c}" for c in SERIES)},
            any_value(branch_class) AS branch_class
          FROM (SELECT {sid} AS sid, * FROM ({within})) SEMI JOIN marks USING (sid)
          GROUP BY sid
        )
        SELECT {", ".join(f"n.{c}" for c in SERIES)}, n.branch_class, m.ended AS red_at,
          coalesce(m.green_at, e.green_after) AS green_at,
          epoch(coalesce(m.green_at, e.green_after) - m.ended) AS recovery_s
        FROM marks m JOIN names n USING (sid) LEFT JOIN edges e USING (seg, sid)
        WHERE m.prev_red IS NOT NULL OR NOT coalesce(e.red_before, false)
        """,
        bounds,
    )


def _segments(windows: Iterable[Window]) -> list[tuple[datetime, datetime]]:
    """The windows widened by the queue margin, overlapping ones merged, in time order."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted((w.since - QUEUE_MARGIN, w.until) for w in windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _covered(con: duckdb.DuckDBPyConnection, window: Window) -> None:
    row = con.execute(
        "SELECT count(*) FROM segs WHERE lo <= ? AND hi >= ?",
        [utc_naive(window.since - QUEUE_MARGIN), utc_naive(window.until)],
    ).fetchone()
    if not row or not row[0]:
        raise ValueError(f"prepare() did not cover {window}: its streaks are unknown")


def figures(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    groups: tuple[str, ...] = (),
    by_week: bool = False,
) -> dict[tuple[Any, ...], Figures]:
    """Figures per group (columns of ``scoped``, e.g. ``("branch_class",)``) over ``window``;
    ``by_week`` adds the ISO week (Monday, UTC) as the key's last part."""
    return grouped_figures(con, window, {"": groups}, by_week)[""]


def grouped_figures(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    sets: Mapping[str, tuple[str, ...]],
    by_week: bool = False,
) -> dict[str, dict[tuple[Any, ...], Figures]]:
    """:func:`figures` for several groupings at once (one pass over the window's runs); the
    result maps each name in ``sets`` to its figures. ``prepare`` must have covered ``window``."""
    _covered(con, window)
    keys = {name: (*cols, "week") if by_week else tuple(cols) for name, cols in sets.items()}
    # the grand total groups by a constant: GROUPING() needs a column in every set
    grouped = {name: cols or ("one",) for name, cols in keys.items()}
    columns = list(dict.fromkeys(c for cols in grouped.values() for c in cols))
    gid = {
        sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in cols): name
        for name, cols in grouped.items()
    }
    select = f"{', '.join(columns)}, grouping({', '.join(columns)}) AS gid,"
    group_by = f"GROUPING SETS ({', '.join('(' + ', '.join(k) + ')' for k in grouped.values())})"
    bounds = [utc_naive(window.since), utc_naive(window.until)]
    rows = con.execute(
        f"""
        SELECT {select}
          count(*),
          count(*) FILTER (WHERE conclusion = 'success'),
          count(*) FILTER (WHERE conclusion IN ('failure', 'infra_failure')),
          count(*) FILTER (WHERE conclusion = 'cancelled'),
          quantile_cont(duration_s, [0.5, 0.95]),
          coalesce(sum(duration_s) FILTER (WHERE conclusion IN ('failure', 'infra_failure')), 0)
        FROM (SELECT *, date_trunc('week', created_at) AS week, 1 AS one FROM scoped
              WHERE created_at >= ? AND created_at < ?)
        GROUP BY {group_by}
        """,
        bounds,
    ).fetchall()
    n = len(columns) + 1
    red = {
        tuple(r[:n]): r[n:]
        for r in con.execute(
            f"""
            SELECT {select}
              count(recovery_s),
              avg(recovery_s),
              quantile_cont(recovery_s, [0.5, 0.95]),
              count(*) FILTER (WHERE green_at IS NULL),
              max(epoch(coalesce(green_at, greatest(?, red_at)) - red_at))
            FROM (SELECT *, date_trunc('week', red_at) AS week, 1 AS one FROM streaks
                  WHERE red_at >= ? AND red_at < ?)
            GROUP BY {group_by}
            """,
            [utc_naive(window.until), *bounds],
        ).fetchall()
    }
    days = 7.0 if by_week else window.days
    out: dict[str, dict[tuple[Any, ...], Figures]] = {name: {} for name in sets}
    for r in rows:
        name = gid[r[n - 1]]
        key = tuple(_aware(r[columns.index(c)]) for c in keys[name])
        runs, ok, bad, cancelled, durations, failed_s = r[n:]
        recovered, mean, recoveries, still, longest = red.get(
            tuple(r[:n]), (0, None, None, 0, None)
        )
        p50, p95 = durations or (None, None)  # one sort for both quantiles
        r50, r95 = recoveries or (None, None)
        ended = ok + bad
        out[name][key] = Figures(
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
    for name, cols in keys.items():
        if not cols and not out[name]:
            out[name][()] = Figures()  # the grand total of an empty window: zero runs
    return out


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _column(name: str) -> str:
    if name not in (*SERIES, "branch_class", "event"):
        raise ValueError(f"cannot filter runs on {name!r}")
    return name


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def span(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The first and last creation time of the runs in scope."""
    row = con.execute("SELECT min(created_at), max(created_at) FROM scoped").fetchone()
    if not row or row[0] is None:
        return None
    return _aware(row[0]), _aware(row[1])
