"""The delivery summary checked against an independent computation: plain Python over the
generated runs (no SQL), on a seeded history with cancelled, skipped and running runs, reruns,
two workflows of one name, long queue waits, streaks across both window edges and one red for
weeks, an empty week, partial weeks and times in several zones; both sets of definitions."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from greenline.insights.metrics import Window, scope, weeks
from greenline.insights.summary import summarise
from greenline.model.delivery import Conclusion, WorkflowRun
from greenline.store.warehouse import Warehouse, connect_duckdb

C = Conclusion
NOW = Window(datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC))  # Wed to Fri
EMPTY_WEEK = datetime(2026, 3, 16, tzinfo=UTC)  # no run is created in this week
WORKFLOWS = [("CI", ".github/workflows/ci.yml"), ("CI", ".github/workflows/nightly.yml")]
WORKFLOWS += [("Lint", ".github/workflows/lint.yml")]
ZONES = [timezone(timedelta(hours=h)) for h in (-7, 0, 2, 5, 9)]
OUTCOMES = [C.SUCCESS] * 6 + [C.FAILURE] * 3 + [C.CANCELLED, C.SKIPPED, C.INFRA_FAILURE]


def generate(seed: int) -> list[WorkflowRun]:
    rng = random.Random(seed)
    runs: list[WorkflowRun] = []
    for repository in ("acme/a", "acme/b"):
        for name, path in WORKFLOWS:
            for branch in ("main", "feature/1", "feature/2"):
                runs += _series(rng, repository, name, path, branch)
    # main of acme/a's CI: red from three weeks before the window to five days into it
    red = {"repository": "acme/a", "name": "CI", "path": WORKFLOWS[0][1], "branch": "main"}
    start = NOW.since - timedelta(days=21)
    runs += [
        _run(rng, "long-0", C.SUCCESS, start - timedelta(days=1), 0, 600, **red),
        _run(rng, "long-1", C.FAILURE, start, 0, 900, **red),
        _run(rng, "long-2", C.FAILURE, NOW.since + timedelta(days=2), 0, 300, **red),
        _run(rng, "long-3", C.SUCCESS, NOW.since + timedelta(days=5), 0, 300, **red),
        # a failure queued 20 days before it ran, ending inside the window
        _run(rng, "wait", C.FAILURE, NOW.since + timedelta(days=6), 20 * 86400, 600, **red),
    ]
    # a branch left red long before both windows, and never run again: still red in both
    gone = {
        "repository": "acme/b",
        "name": "Lint",
        "path": WORKFLOWS[2][1],
        "branch": "feature/gone",
    }
    runs.append(_run(rng, "gone", C.FAILURE, NOW.since - timedelta(days=100), 0, 60, **gone))
    return [r for r in runs if not _in_empty_week(r.created_at)]


def _series(
    rng: random.Random, repository: str, name: str, path: str, branch: str
) -> list[WorkflowRun]:
    out: list[WorkflowRun] = []
    t = NOW.since - timedelta(days=rng.uniform(60, 90))
    end = NOW.until + timedelta(days=10)
    busy = branch == "main"
    while t < end:
        conclusion = rng.choice(OUTCOMES)
        wait = rng.choice([0, 0, 0, rng.randint(1, 3600), rng.randint(3600, 3 * 86400)])
        seconds = rng.randint(30, 5400)
        run_id = f"{len(out)}"
        keys = {"repository": repository, "name": name, "path": path, "branch": branch}
        if t > NOW.until and rng.random() < 0.3:
            conclusion = C.RUNNING  # the newest runs may still be going
        out.append(_run(rng, run_id, conclusion, t, wait, seconds, **keys))
        if conclusion in (C.FAILURE, C.INFRA_FAILURE) and rng.random() < 0.4:  # a rerun
            again = rng.choice([C.SUCCESS, C.SUCCESS, C.FAILURE])
            later = t + timedelta(seconds=wait + seconds + rng.randint(60, 7200))
            out.append(_run(rng, run_id, again, later, 0, rng.randint(30, 1800), attempt=2, **keys))
        t += timedelta(hours=rng.expovariate(1 / (8 if busy else 40)))
    return out


def _run(
    rng: random.Random,
    run_id: str,
    conclusion: Conclusion,
    created: datetime,
    wait: int,
    seconds: int,
    *,
    repository: str,
    name: str,
    path: str,
    branch: str,
    attempt: int = 1,
) -> WorkflowRun:
    zone = rng.choice(ZONES)  # the same instants, written in other zones
    created = created.replace(microsecond=0).astimezone(zone)
    started = created + timedelta(seconds=wait)
    running = conclusion is C.RUNNING
    skipped = conclusion is C.SKIPPED
    return WorkflowRun(
        provider="github",
        repository=repository,
        workflow=name,
        run_id=f"{path}:{branch}:{run_id}",
        attempt=attempt,
        branch=branch,
        default_branch=branch == "main",
        conclusion=conclusion,
        created_at=created,
        started_at=None if skipped else started,
        finished_at=None if running else started + timedelta(seconds=0 if skipped else seconds),
        workflow_id=path,
    )


def _in_empty_week(when: datetime) -> bool:
    return EMPTY_WEEK <= when < EMPTY_WEEK + timedelta(days=7)


# -- the independent computation -----------------------------------------------------------
RED = (C.FAILURE, C.INFRA_FAILURE)


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (DuckDB's quantile_cont)."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ended(r: WorkflowRun) -> datetime:
    return max(r.finished_at or r.started_at or r.created_at, r.created_at)


def streaks(runs: list[WorkflowRun]) -> list[tuple[datetime, datetime | None]]:
    """(red_at, green_at) of one series' red streaks: outcome runs in the order they ended."""
    outcomes = [r for r in runs if r.conclusion is C.SUCCESS or r.conclusion in RED]
    outcomes.sort(key=lambda r: (ended(r), r.started_at or r.created_at, r.run_id, r.attempt))
    out: list[tuple[datetime, datetime | None]] = []
    red_at: datetime | None = None
    for r in outcomes:
        if r.conclusion in RED and red_at is None:
            red_at = ended(r)
        elif r.conclusion is C.SUCCESS and red_at is not None:
            out.append((red_at, ended(r)))
            red_at = None
    if red_at is not None:
        out.append((red_at, None))
    return out


def expected(
    runs: list[WorkflowRun], window: Window, key: Callable[[WorkflowRun], Any], definitions: str
) -> dict[Any, dict[str, Any]]:
    """The figures per ``key`` over ``window``, by hand."""
    groups: dict[Any, dict[str, Any]] = defaultdict(dict)
    inside: dict[Any, list[WorkflowRun]] = defaultdict(list)
    for r in runs:
        if window.since <= r.created_at < window.until:
            inside[key(r)].append(r)
    for k, mine in inside.items():
        groups[k].update(_run_figures(mine, window.days, definitions))
    by_series: dict[tuple[str, ...], list[WorkflowRun]] = defaultdict(list)
    for r in runs:
        by_series[(r.repository, r.workflow_id, r.branch)].append(r)
    found: dict[Any, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    still: dict[Any, int] = defaultdict(int)
    for series in by_series.values():
        k = key(series[0])
        every = streaks(series)
        found[k] += [s for s in every if window.since <= s[0] < window.until]
        if any(s[0] < window.until and (s[1] is None or s[1] >= window.until) for s in every):
            still[k] += 1
    for k in found.keys() | still.keys():
        groups[k].update(_streak_figures(found[k], window.until), still_red=still[k])
    return {k: {**EMPTY, **v} for k, v in groups.items()}


EMPTY: dict[str, Any] = {
    "runs": 0, "successes": 0, "failures": 0, "cancelled": 0, "skipped": 0, "rated": 0,
    "success_rate": None, "duration_p50_s": None, "duration_p95_s": None,
    "recoveries": 0, "recovery_mean_s": None, "still_red": 0, "longest_red_s": None,
}  # fmt: skip


def _run_figures(runs: list[WorkflowRun], days: float, definitions: str) -> dict[str, Any]:
    rated = (C.SUCCESS, *RED, *((C.SKIPPED,) if definitions == "report" else ()))
    ok = sum(r.conclusion is C.SUCCESS for r in runs)
    n_rated = sum(r.conclusion in rated for r in runs)
    durations = [
        max(
            (
                r.finished_at - (r.created_at if definitions == "report" else r.started_at)
            ).total_seconds(),
            0,
        )
        for r in runs
        if (r.conclusion is C.SUCCESS or r.conclusion in RED) and r.finished_at and r.started_at
    ]
    return {
        "runs": len(runs),
        "successes": ok,
        "failures": sum(r.conclusion in RED for r in runs),
        "cancelled": sum(r.conclusion is C.CANCELLED for r in runs),
        "skipped": sum(r.conclusion is C.SKIPPED for r in runs),
        "rated": n_rated,
        "throughput_per_day": len(runs) / days,
        "success_rate": ok / n_rated if n_rated else None,
        "duration_p50_s": quantile(durations, 0.5),
        "duration_p95_s": quantile(durations, 0.95),
    }


def _streak_figures(
    found: list[tuple[datetime, datetime | None]], until: datetime
) -> dict[str, Any]:
    recovered = [(g - r).total_seconds() for r, g in found if g is not None]
    spans = [((g or max(until, r)) - r).total_seconds() for r, g in found]
    return {
        "recoveries": len(recovered),
        "recovery_mean_s": sum(recovered) / len(recovered) if recovered else None,
        "longest_red_s": max(spans) if spans else None,
    }


# -- the comparison --------------------------------------------------------------------------
def branch_class(r: WorkflowRun) -> str:
    return "default" if r.default_branch else "other"


def same(actual: dict[str, Any], wanted: dict[str, Any], where: str) -> None:
    for name, value in wanted.items():
        got = actual[name]
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-9, abs=1e-6), (where, name, got, value)
        else:
            assert got == value, (where, name, got, value)


@pytest.fixture(scope="module")
def history() -> list[WorkflowRun]:
    return generate(seed=7)


@pytest.mark.parametrize("definitions", ["greenline", "report"])
def test_the_summary_equals_a_plain_computation(
    tmp_path: Path, history: list[WorkflowRun], definitions: str
) -> None:
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(history)
    con = connect_duckdb()
    warehouse.attach(con)
    scope(con, definitions=definitions)
    doc = summarise(con, NOW, definitions=definitions)
    con.close()
    assert doc["definitions"]["name"] == definitions
    for window, part in ((NOW, None), (NOW.previous(), "previous"), (NOW.year_ago(), "year_ago")):
        per_class = expected(history, window, branch_class, definitions)
        every = expected(history, window, lambda r: "all", definitions)
        for cls, wanted in (*per_class.items(), *every.items()):
            got = doc["overall"][cls]
            same(got[part] if part else got, wanted, f"{part or 'now'} {cls}")

    rows = {(w["repository"], w["workflow_id"], w["branch_class"]): w for w in doc["workflows"]}
    wanted_rows = expected(
        history, NOW, lambda r: (r.repository, r.workflow_id, branch_class(r)), definitions
    )
    assert sorted(rows) == sorted(wanted_rows), "a row for every workflow with data, no more"
    for key, wanted in wanted_rows.items():
        same(rows[key], wanted, str(key))
    labels = {w["workflow_label"] for w in doc["workflows"]}
    assert "CI (.github/workflows/ci.yml)" in labels and "Lint" in labels

    weekly = {(w["week"], w["branch_class"]): w for w in doc["weekly"]}
    mondays = weeks(NOW)
    assert sorted({w for w, _ in weekly}) == [m.isoformat() for m in mondays]
    for monday in mondays:
        part = Window(max(monday, NOW.since), min(monday + timedelta(days=7), NOW.until))
        for cls, wanted in expected(history, part, branch_class, definitions).items():
            del wanted["longest_red_s"]  # open streaks count to the window's end, not the week's
            same(weekly[(monday.isoformat(), cls)], wanted, f"week {monday:%F} {cls}")
    assert weekly[(EMPTY_WEEK.isoformat(), "default")]["runs"] == 0
    assert weekly[(EMPTY_WEEK.isoformat(), "default")]["success_rate"] is None


def test_the_history_has_the_hard_cases(history: list[WorkflowRun]) -> None:
    """The generator really makes what the comparison is meant to cover."""
    conclusions = {r.conclusion for r in history}
    assert {C.CANCELLED, C.SKIPPED, C.RUNNING, C.INFRA_FAILURE} <= conclusions
    assert any(r.attempt == 2 for r in history)
    assert {r.created_at.utcoffset() for r in history} >= {timedelta(hours=-7), timedelta(hours=9)}
    assert any(r.started_at and r.started_at - r.created_at > timedelta(days=7) for r in history)
    series: dict[tuple[str, ...], list[WorkflowRun]] = defaultdict(list)
    for r in history:
        series[(r.repository, r.workflow_id, r.branch)].append(r)
    every = [s for runs in series.values() for s in streaks(runs)]
    assert any(r < NOW.since <= g for r, g in every if g), "a streak across the window's start"
    assert any(r < NOW.until and (g is None or g >= NOW.until) for r, g in every)
    assert any(g and g - r > timedelta(days=7) for r, g in every), "red for over a week"
    overtaken = [
        (a, b)
        for runs in series.values()
        for a in runs
        for b in runs
        if a.conclusion in RED
        and b.conclusion is C.SUCCESS
        and (a.started_at or a.created_at) < (b.started_at or b.created_at)
        and ended(b) < ended(a)
    ]
    assert overtaken, "a success that ends before a failure started earlier"
