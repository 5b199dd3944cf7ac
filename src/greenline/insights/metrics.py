"""Delivery metrics over workflow runs, computed in DuckDB over the ``runs`` view the caller
attaches (any size: columnar, bounded memory), with greenline's definitions or the industry
report's (``DEFINITIONS``).

- throughput: workflow runs per day, any conclusion (a rerun attempt is a run); a partial
  week's throughput is per day of the part inside the window;
- duration: P50/P95 of the wall time of runs that succeeded or failed, from their start
  (greenline) or their creation (report);
- success rate: successful / rated, rated being successes and failures (greenline) or every
  completed run but cancelled ones (report); runs still going count in neither part;
- recovery: see :mod:`greenline.insights.streaks`. Time to recovery is averaged over the
  streaks that began in the window and have recovered (even after it); "still red" counts the
  series red at the window's end, whenever their streak began; the longest red streak counts
  open ones up to the window's end.

Times are UTC. Pure computation: SQL over a view, no files or clocks of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from greenline.insights.streaks import OUTCOMES, SERIES, prepare_streaks
from greenline.model.delivery import utc_naive

if TYPE_CHECKING:
    import duckdb

OUTCOME_LIST = "'success', 'failure', 'infra_failure'"
#: the two sets of definitions: greenline's own (the default) and the industry report's
DEFINITIONS: dict[str, dict[str, str]] = {
    "greenline": {
        "success_rate": "successful / (successful + failed): cancelled, skipped, neutral, "
        "action_required and stale runs, and runs still going, count in neither part",
        "duration": "from the attempt's start (run_started_at) to its end, for runs that "
        "succeeded or failed",
        "rated": f"({OUTCOME_LIST})",
        "start": "started_at",
    },
    "report": {
        "success_rate": "successful / (completed - cancelled): skipped, neutral, "
        "action_required and stale runs count as not successful; runs still going count in "
        "neither part",
        "duration": "the workflow's wall time from its creation (created_at) to its end, for "
        "runs that succeeded or failed",
        "rated": f"({OUTCOME_LIST}, 'skipped')",
        "start": "created_at",
    },
}


def base(definitions: str) -> str:
    """The runs with the derived columns every metric uses, under ``definitions``."""
    if definitions not in DEFINITIONS:
        raise ValueError(f"no definitions {definitions!r}: one of {', '.join(DEFINITIONS)}")
    chosen = DEFINITIONS[definitions]
    start = chosen["start"]
    # a run cannot end before it was created: clamping keeps ``created_at <= ended`` (the
    # streak scan relies on it) even when a provider's clocks disagree
    return f"""
SELECT *,
  coalesce(nullif(workflow_id, ''), workflow) AS workflow_key,
  CASE WHEN default_branch THEN 'default' ELSE 'other' END AS branch_class,
  CASE WHEN {start} IS NOT NULL AND finished_at IS NOT NULL
            AND conclusion IN {OUTCOMES} THEN greatest(epoch(finished_at - {start}), 0) END
    AS duration_s,
  conclusion IN {chosen["rated"]} AS rated,
  greatest(coalesce(finished_at, started_at, created_at), created_at) AS ended,
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
    still_red: int = 0  # series red at the window's end, whenever their streak began
    longest_red_s: float | None = None  # open streaks count up to the window's end
    skipped: int = 0  # skipped, neutral, action_required and stale runs
    rated: int = 0  # the success rate's denominator under the definitions in use

    def to_dict(self) -> dict[str, Any]:
        # flat fields: a plain read is many times faster than asdict's deep copy, and a
        # history of thousands of workflows asks for tens of thousands of these
        return {name: getattr(self, name) for name in FIGURE_FIELDS}


FIGURE_FIELDS = tuple(f.name for f in fields(Figures))


def scope(
    con: duckdb.DuckDBPyConnection,
    filters: Mapping[str, str] | None = None,
    definitions: str = "greenline",
) -> None:
    """Create the view ``scoped``: the attached runs, with equality ``filters`` on their columns
    (e.g. ``{"repository": "acme/shop"}``; ``workflow`` matches a name or an identity), and
    the derived columns every metric uses under ``definitions``. A view, not a copy: each
    window's queries read only the Parquet row groups of its dates."""
    conditions = [_condition(k, v) for k, v in (filters or {}).items()]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW scoped AS SELECT * FROM ({base(definitions)}){where}")


def prepare(con: duckdb.DuckDBPyConnection, windows: Iterable[Window]) -> None:
    """Find the red streaks that matter to ``windows`` (see :mod:`greenline.insights.streaks`):
    those that turned red in them, and those red since before them."""
    prepare_streaks(con, [(w.since, w.until) for w in windows])


def _segment_of(con: duckdb.DuckDBPyConnection, window: Window) -> int:
    row = con.execute(
        "SELECT min(seg) FROM segs WHERE lo <= ? AND hi >= ?",
        [utc_naive(window.since), utc_naive(window.until)],
    ).fetchone()
    if not row or row[0] is None:
        raise ValueError(f"prepare() did not cover {window}: its streaks are unknown")
    return int(row[0])


def figures(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    groups: tuple[str, ...] = (),
    by_week: bool = False,
) -> dict[tuple[Any, ...], Figures]:
    """Figures per group (columns of ``scoped``, e.g. ``("branch_class",)``) over ``window``;
    ``by_week`` adds the ISO week (Monday, UTC) as the key's last part, every week of the
    window, empty ones too, each week's throughput over its days inside the window."""
    return grouped_figures(con, window, {"": groups}, by_week)[""]


def grouped_figures(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    sets: Mapping[str, tuple[str, ...]],
    by_week: bool = False,
) -> dict[str, dict[tuple[Any, ...], Figures]]:
    """:func:`figures` for several groupings at once (one pass over the window's runs); the
    result maps each name in ``sets`` to its figures. ``prepare`` must have covered ``window``.
    A group has a row when it has runs, streaks or a series still red in the window."""
    seg = _segment_of(con, window)
    query = _Grouping(sets, by_week)
    bounds = [utc_naive(window.since), utc_naive(window.until)]
    runs = query.run(con, RUNS_SQL, "created_at", bounds)
    streaks = query.run(con, STREAKS_SQL, "red_at", [utc_naive(window.until), *bounds])
    _ends(con, window, by_week)
    still = query.run(con, STILL_SQL, None, [seg])
    out: dict[str, dict[tuple[Any, ...], Figures]] = {name: {} for name in sets}
    for raw in runs.keys() | streaks.keys() | still.keys():
        name, key = query.name_of(raw)
        days = _days(window, key[-1]) if by_week else window.days
        out[name][key] = _figures(runs.get(raw), streaks.get(raw), still.get(raw), days)
    if by_week:
        _fill_weeks(out, window)
    for name, cols in query.keys.items():
        if not cols and not out[name]:
            out[name][()] = Figures()  # the grand total of an empty window: zero runs
    return out


RUNS_SQL = """
SELECT {select}
  count(*),
  count(*) FILTER (WHERE conclusion = 'success'),
  count(*) FILTER (WHERE conclusion IN ('failure', 'infra_failure')),
  count(*) FILTER (WHERE conclusion = 'cancelled'),
  quantile_cont(duration_s, [0.5, 0.95]),
  coalesce(sum(duration_s) FILTER (WHERE conclusion IN ('failure', 'infra_failure')), 0),
  count(*) FILTER (WHERE conclusion = 'skipped'),
  count(*) FILTER (WHERE rated)
FROM (SELECT *, {week} AS week, 1 AS one FROM scoped WHERE created_at >= ? AND created_at < ?)
GROUP BY {group_by}
"""
STREAKS_SQL = """
SELECT {select}
  count(recovery_s),
  avg(recovery_s),
  quantile_cont(recovery_s, [0.5, 0.95]),
  max(epoch(coalesce(green_at, greatest(?, red_at)) - red_at))
FROM (SELECT *, {week} AS week, 1 AS one FROM streaks WHERE red_at >= ? AND red_at < ?)
GROUP BY {group_by}
"""
#: a series is red at a time t when its streak turned red before t (or before the segment)
#: and turned green at t or later, or not yet
STILL_SQL = """
SELECT {select} count(*)
FROM (SELECT s.*, e.week, 1 AS one FROM streaks s, ends e
      WHERE s.seg = ? AND coalesce(s.red_at < e.t, true) AND coalesce(s.green_at >= e.t, true))
GROUP BY {group_by}
"""


class _Grouping:
    """The GROUPING SETS query for named sets of columns, and how to read its rows back."""

    def __init__(self, sets: Mapping[str, tuple[str, ...]], by_week: bool) -> None:
        self.keys = {
            name: (*cols, "week") if by_week else tuple(cols) for name, cols in sets.items()
        }
        # the grand total groups by a constant: GROUPING() needs a column in every set
        grouped = {name: cols or ("one",) for name, cols in self.keys.items()}
        self.columns = list(dict.fromkeys(c for cols in grouped.values() for c in cols))
        self.gid = {
            sum(
                1 << (len(self.columns) - 1 - i)
                for i, c in enumerate(self.columns)
                if c not in cols
            ): name
            for name, cols in grouped.items()
        }
        self.select = f"{', '.join(self.columns)}, grouping({', '.join(self.columns)}) AS gid,"
        self.group_by = (
            "GROUPING SETS (" + ", ".join("(" + ", ".join(k) + ")" for k in grouped.values()) + ")"
        )

    def run(
        self, con: duckdb.DuckDBPyConnection, sql: str, when: str | None, params: list[Any]
    ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Rows by their group columns and grouping id; the rest of each row as the value
        (``when``: the column whose week a row is in, when the query has no week of its own)."""
        week = f"date_trunc('week', {when})" if when else ""
        text = sql.format(select=self.select, group_by=self.group_by, week=week)
        n = len(self.columns) + 1
        return {tuple(r[:n]): tuple(r[n:]) for r in con.execute(text, params).fetchall()}

    def name_of(self, raw: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        name = self.gid[raw[-1]]
        return name, tuple(_aware(raw[self.columns.index(c)]) for c in self.keys[name])


def _ends(con: duckdb.DuckDBPyConnection, window: Window, by_week: bool) -> None:
    """The times at which "still red" is read: the window's end, or each week's end in it."""
    con.execute("CREATE OR REPLACE TEMP TABLE ends (week TIMESTAMP, t TIMESTAMP)")
    rows: list[list[datetime | None]] = [[None, utc_naive(window.until)]]
    if by_week:
        rows = [[utc_naive(w), utc_naive(min(w + WEEK, window.until))] for w in weeks(window)]
    con.executemany("INSERT INTO ends VALUES (?, ?)", rows)


WEEK = timedelta(days=7)


def weeks(window: Window) -> list[datetime]:
    """The Mondays (00:00 UTC) of every week that overlaps ``window``."""
    since = window.since.astimezone(UTC)
    monday = (since - timedelta(days=since.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    out = []
    while monday < window.until:
        out.append(monday)
        monday += WEEK
    return out


def _days(window: Window, week: datetime) -> float:
    """How many days of ``week`` lie in ``window``: a partial week's throughput is per day of
    the part the window holds."""
    lo, hi = max(week, window.since), min(week + WEEK, window.until)
    return max((hi - lo).total_seconds(), 0.0) / 86400


def _fill_weeks(out: dict[str, dict[tuple[Any, ...], Figures]], window: Window) -> None:
    """Every group gets every week of the window: an empty week is a row of zero runs (and no
    rates), so that a chart shows the gap instead of drawing across it."""
    for rows in out.values():
        for prefix in {key[:-1] for key in rows}:
            for week in weeks(window):
                rows.setdefault((*prefix, week), Figures())


def _figures(
    runs: tuple[Any, ...] | None,
    streaks: tuple[Any, ...] | None,
    still: tuple[Any, ...] | None,
    days: float,
) -> Figures:
    count, ok, bad, cancelled, durations, failed_s, skipped, rated = runs or (
        0,
        0,
        0,
        0,
        None,
        0,
        0,
        0,
    )
    recovered, mean, recoveries, longest = streaks or (0, None, None, None)
    p50, p95 = durations or (None, None)  # one sort for both quantiles
    r50, r95 = recoveries or (None, None)
    return Figures(
        runs=count,
        successes=ok,
        failures=bad,
        cancelled=cancelled,
        throughput_per_day=count / days if days else 0.0,
        success_rate=ok / rated if rated else None,
        duration_p50_s=p50,
        duration_p95_s=p95,
        failed_run_seconds=float(failed_s),
        recoveries=int(recovered),
        recovery_mean_s=mean,
        recovery_p50_s=r50,
        recovery_p95_s=r95,
        still_red=int(still[0]) if still else 0,
        longest_red_s=longest,
        skipped=skipped,
        rated=rated,
    )


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _condition(name: str, value: str) -> str:
    if name == "workflow":  # a workflow is asked for by its name or its identity
        return f"(workflow = {_literal(value)} OR workflow_key = {_literal(value)})"
    if name not in (*SERIES, "branch_class", "event"):
        raise ValueError(f"cannot filter runs on {name!r}")
    return f"{name} = {_literal(value)}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def span(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The first and last creation time of the runs in scope."""
    row = con.execute("SELECT min(created_at), max(created_at) FROM scoped").fetchone()
    if not row or row[0] is None:
        return None
    return _aware(row[0]), _aware(row[1])
