"""Red streaks per series (a workflow on a branch), found in DuckDB for the time segments that
some windows cover, from the runs that end in them plus one pass over the rest of the history.

A series' outcome runs are ordered by when they ended (then start, run id, attempt): it turns
red at the end of a failed run that follows a success (or starts its history) and green at the
end of the next success. Ordering and measuring by the same time is what keeps every recovery
at zero or more, whenever a run was created or started, however long it waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from greenline.model.delivery import utc_naive

if TYPE_CHECKING:
    import duckdb

#: a series: one workflow (by its identity, not its display name) on one branch
SERIES = ("provider", "repository", "workflow_key", "branch")
OUTCOMES = "('success', 'failure', 'infra_failure')"
#: the order of a series' runs; ties in the end time fall back to the start, then the key
ORDER = "ended, began, run_id, attempt"
SID = f"hash({', '.join(SERIES)})"


def segments(windows: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The windows with overlapping or touching ones merged, in time order."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def prepare_streaks(
    con: duckdb.DuckDBPyConnection, windows: list[tuple[datetime, datetime]]
) -> None:
    """Create ``segs`` (seg, lo, hi) and ``streaks``: per segment, every streak that turned red
    in it (``red_at``) and every streak red since before it (``red_at`` NULL), with when it
    recovered (``green_at``, NULL while red), the series' columns and its branch class."""
    segs = segments(windows)
    if not segs:
        raise ValueError("prepare() needs at least one window")
    con.execute("CREATE OR REPLACE TEMP TABLE segs (seg INTEGER, lo TIMESTAMP, hi TIMESTAMP)")
    con.executemany(
        "INSERT INTO segs VALUES (?, ?, ?)",
        [[i, utc_naive(lo), utc_naive(hi)] for i, (lo, hi) in enumerate(segs)],
    )
    _segment_runs(con, len(segs))
    _marks(con)
    _edges(con, segs)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE streaks AS
        WITH found AS (
          SELECT m.seg, m.sid, m.ended AS red_at, coalesce(m.green_at, e.green_after) AS green_at
          FROM marks m LEFT JOIN edges e USING (seg, sid)
          WHERE m.prev_red IS NOT NULL OR NOT coalesce(e.red_before, false)
          UNION ALL
          SELECT e.seg, e.sid, NULL, coalesce(p.first_green, e.green_after)
          FROM edges e LEFT JOIN present p USING (seg, sid)
          WHERE e.red_before
        )
        SELECT f.seg, {", ".join(f"n.{c}" for c in SERIES)}, n.branch_class, f.red_at,
          f.green_at, epoch(f.green_at - f.red_at) AS recovery_s
        FROM found f JOIN names n USING (sid)
        """
    )


def _segment_runs(con: duckdb.DuckDBPyConnection, count: int) -> None:
    """The outcome runs that end in each segment (``created_at < hi`` holds for all of them, as
    a run ends no earlier than it was created, and lets the scan skip newer files)."""
    within = " UNION ALL ".join(
        f"SELECT s.seg, {SID} AS sid, r.began, r.run_id, r.attempt, r.ended, "
        "r.conclusion <> 'success' AS red "
        f"FROM scoped r, segs s WHERE s.seg = {i} AND r.created_at < s.hi "
        f"AND r.ended >= s.lo AND r.ended < s.hi AND r.conclusion IN {OUTCOMES}"
        for i in range(count)
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE seg_runs AS {within}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE present AS
        SELECT seg, sid, min(ended) FILTER (WHERE NOT red) AS first_green
        FROM seg_runs GROUP BY seg, sid
        """
    )


def _marks(con: duckdb.DuckDBPyConnection) -> None:
    """Where streaks may turn red inside a segment, with the end of the next success there
    (a first run that is red may continue a streak from before: ``prev_red`` is NULL)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE marks AS
        SELECT * FROM (
          SELECT seg, sid, red, ended,
            lag(red) OVER w AS prev_red,
            first_value(CASE WHEN NOT red THEN ended END IGNORE NULLS)
              OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS green_at
          FROM seg_runs
          WINDOW w AS (PARTITION BY seg, sid ORDER BY {ORDER})
        ) WHERE red AND prev_red IS NOT TRUE
        """
    )


def _edges(con: duckdb.DuckDBPyConnection, segs: list[tuple[datetime, datetime]]) -> None:
    """One pass over every series' whole history: whether it was red when each segment began
    (its last outcome before), when it first turned green after each segment, and its names."""
    aggregates = ", ".join(
        f"arg_max(red, ({ORDER})) FILTER (WHERE ended < {_ts(lo)}) AS rb{i}, "
        f"min(ended) FILTER (WHERE ended >= {_ts(hi)} AND NOT red) AS ga{i}"
        for i, (lo, hi) in enumerate(segs)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE history AS
        SELECT {SID} AS sid, {", ".join(f"any_value({c}) AS {c}" for c in SERIES)},
          any_value(branch_class) AS branch_class, {aggregates}
        FROM (SELECT *, conclusion <> 'success' AS red FROM scoped
              WHERE conclusion IN {OUTCOMES})
        GROUP BY sid
        """
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE names AS SELECT sid, {', '.join(SERIES)}, branch_class "
        "FROM history"
    )
    edges = " UNION ALL ".join(
        f"SELECT {i} AS seg, sid, rb{i} AS red_before, ga{i} AS green_after FROM history"
        for i in range(len(segs))
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE edges AS {edges}")


def _ts(when: datetime) -> str:
    return f"TIMESTAMP '{utc_naive(when).isoformat(sep=' ')}'"
