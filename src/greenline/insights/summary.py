"""The delivery summary: figures per branch class and workflow for a window, compared with the
previous window, the same weeks a year before, the recommended benchmarks and the 2026 industry
medians; weekly trends; the slowest and most failing workflows and jobs; plain-language
findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenline.insights.metrics import (
    DEFINITIONS,
    Figures,
    Window,
    figures,
    grouped_figures,
    prepare,
)
from greenline.model.delivery import utc_naive

if TYPE_CHECKING:
    import duckdb

SCHEMA = "greenline.delivery-metrics/1"
#: what the industry report recommends
RECOMMENDED = {
    "success_rate_default": 0.90,  # main-branch success rate, at least
    "recovery_s": 60 * 60,  # mean time to recovery, under
    "duration_s": 10 * 60,  # workflow duration, at most
}
#: the 2026 industry report's medians and growth figures (28 million workflow runs)
INDUSTRY_2026 = {
    "success_rate_default": 0.708,
    "recovery_s": 72 * 60,
    "throughput_growth_mean": 0.59,
    "throughput_growth_median": 0.04,
    "throughput_growth_top5": 0.97,
    "throughput_growth_feature": 0.15,
    "throughput_growth_default": -0.07,
}
TOP = 5


@dataclass(frozen=True, slots=True)
class Extras:
    """What the store adds when it has it: tests' durations and failures, flaky tests' cost."""

    slowest_tests: list[dict[str, Any]] = field(default_factory=list)
    failing_tests: list[dict[str, Any]] = field(default_factory=list)
    flaky_seconds: float | None = None
    flaky_tests: int = 0
    #: greenline's culprit searches: how many, how many found a culprit, how fast after red
    culprits: dict[str, Any] | None = None


def change(now: float | None, then: float | None) -> float | None:
    """Relative change from ``then`` to ``now`` (None when either is missing or then is 0)."""
    if now is None or then is None or then == 0:
        return None
    return (now - then) / then


def _compared(now: Figures, before: Figures, year: Figures) -> dict[str, Any]:
    def changes(then: Figures) -> dict[str, float | None]:
        return {
            "throughput": change(
                now.throughput_per_day, then.throughput_per_day if then.runs else None
            ),
            "success_rate": change(now.success_rate, then.success_rate),
            "duration_p50": change(now.duration_p50_s, then.duration_p50_s),
            "recovery_mean": change(now.recovery_mean_s, then.recovery_mean_s),
        }

    return {
        **now.to_dict(),
        "previous": before.to_dict(),
        "year_ago": year.to_dict(),
        "change_vs_previous": changes(before),
        "change_vs_year_ago": changes(year),
    }


def summarise(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    extras: Extras | None = None,
    definitions: str = "greenline",
) -> dict[str, Any]:
    """The whole summary for ``window`` over the ``scoped`` view (see ``metrics.scope``, which
    was given the same ``definitions``)."""
    extras = extras or Extras()
    windows = {"now": window, "previous": window.previous(), "year_ago": window.year_ago()}
    prepare(con, windows.values())
    sets = {
        "all": (),
        "class": ("branch_class",),
        "workflow": ("repository", "workflow_key", "branch_class"),
    }
    per = {name: grouped_figures(con, w, sets) for name, w in windows.items()}
    overall: dict[str, Any] = {}
    for cls in ("default", "other"):
        now, before, year = (per[n]["class"].get((cls,), Figures()) for n in windows)
        overall[cls] = _compared(now, before, year)
    overall["all"] = _compared(*(per[n]["all"].get((), Figures()) for n in windows))
    names = workflow_names(con)
    workflows = [
        {
            "repository": key[0],
            **names.get((key[0], key[1]), _unnamed(key[1])),
            "branch_class": key[2],
            **_compared(
                now,
                per["previous"]["workflow"].get(key, Figures()),
                per["year_ago"]["workflow"].get(key, Figures()),
            ),
        }
        for key, now in sorted(per["now"]["workflow"].items())
    ]
    weekly = [
        {"week": key[1].isoformat(), "branch_class": key[0], **figs.to_dict()}
        for key, figs in sorted(figures(con, window, ("branch_class",), by_week=True).items())
    ]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "definitions": {"name": definitions, **_described(definitions)},
        "window": {
            "since": window.since.isoformat(),
            "until": window.until.isoformat(),
            "days": window.days,
        },
        "repositories": sorted({w["repository"] for w in workflows}),
        "overall": overall,
        "two_speed": _two_speed(overall),
        "workflows": workflows,
        "slowest_workflows": _top(workflows, "duration_p50_s"),
        "most_failing_workflows": _top(workflows, "failures"),
        "slowest_jobs": _jobs(con, window, "quantile_cont(duration_s, 0.5)"),
        "most_failing_jobs": _jobs(con, window, "count(*) FILTER (WHERE failed)"),
        "slowest_tests": extras.slowest_tests[:TOP],
        "most_failing_tests": extras.failing_tests[:TOP],
        "flaky": {"wasted_seconds": extras.flaky_seconds, "tests": extras.flaky_tests},
        "culprits": extras.culprits,
        "weekly": weekly,
        "recommended": RECOMMENDED,
        "industry_2026": INDUSTRY_2026,
    }
    doc["findings"] = findings(doc)
    return doc


def _described(definitions: str) -> dict[str, str]:
    chosen = DEFINITIONS[definitions]
    return {"success_rate": chosen["success_rate"], "duration": chosen["duration"]}


def workflow_names(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, str]]:
    """Each workflow's name (its newest), identity and label, by repository and identity: the
    label is the name, with the identity added when two workflows of a repository share it."""
    rows = con.execute(
        "SELECT repository, workflow_key, arg_max(workflow, created_at) FROM scoped "
        "GROUP BY repository, workflow_key"
    ).fetchall()
    shared: dict[tuple[str, str], int] = {}
    for repository, _, name in rows:
        shared[(repository, name)] = shared.get((repository, name), 0) + 1
    return {
        (repository, key): {
            "workflow": name,
            "workflow_id": key,
            "workflow_label": f"{name} ({key})" if shared[(repository, name)] > 1 else name,
        }
        for repository, key, name in rows
    }


def _unnamed(key: str) -> dict[str, str]:
    return {"workflow": key, "workflow_id": key, "workflow_label": key}


def _top(workflows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows = [w for w in workflows if w.get(key)]
    rows.sort(key=lambda w: -float(w[key]))
    return [
        {
            "repository": w["repository"],
            "workflow": w["workflow"],
            "workflow_id": w["workflow_id"],
            "workflow_label": w["workflow_label"],
            "branch_class": w["branch_class"],
            key: w[key],
            "runs": w["runs"],
        }
        for w in rows[:TOP]
    ]


def _two_speed(overall: dict[str, Any]) -> dict[str, Any]:
    """Feature-branch vs default-branch throughput growth, against the year before when there
    is data for it, else against the previous window."""
    basis = "year_ago" if overall["all"]["year_ago"]["runs"] else "previous"
    key = f"change_vs_{basis}"
    return {
        "basis": basis,
        "feature_growth": overall["other"][key]["throughput"],
        "default_growth": overall["default"][key]["throughput"],
    }


def _jobs(con: duckdb.DuckDBPyConnection, window: Window, order: str) -> list[dict[str, Any]]:
    rows = con.execute(
        f"""
        WITH j AS (
          SELECT j.repository, j.name,
            CASE WHEN j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
              THEN greatest(epoch(j.finished_at - j.started_at), 0) END AS duration_s,
            j.conclusion IN ('failure', 'infra_failure') AS failed
          FROM jobs j SEMI JOIN scoped s
            ON s.provider = j.provider AND s.repository = j.repository
           AND s.run_id = j.run_id AND s.attempt = j.attempt
           AND s.created_at >= ? AND s.created_at < ?
        )
        SELECT repository, name, count(*), quantile_cont(duration_s, 0.5),
          count(*) FILTER (WHERE failed), {order} AS rank
        FROM j GROUP BY repository, name HAVING rank > 0
        ORDER BY rank DESC, repository, name LIMIT {TOP}
        """,
        [utc_naive(window.since), utc_naive(window.until)],
    ).fetchall()
    return [
        {"repository": r[0], "job": r[1], "runs": r[2], "duration_p50_s": r[3], "failures": r[4]}
        for r in rows
    ]


def health(doc: dict[str, Any]) -> dict[str, Any]:
    """A bounded, token-cheap digest of the summary for agents: is the default branch healthy,
    what is red, what is slow, in a few dozen fields whatever the history's size."""
    main, everything = doc["overall"]["default"], doc["overall"]["all"]
    rate = main["success_rate"]
    recovery = main["recovery_mean_s"]
    checks = {
        "success_rate_ok": None if rate is None else rate >= RECOMMENDED["success_rate_default"],
        "recovery_ok": None if recovery is None else recovery < RECOMMENDED["recovery_s"],
        "duration_ok": None
        if everything["duration_p50_s"] is None
        else everything["duration_p50_s"] <= RECOMMENDED["duration_s"],
    }
    red = [
        {
            "repository": w["repository"],
            "workflow": w["workflow"],
            "workflow_id": w["workflow_id"],
            "workflow_label": w["workflow_label"],
            "still_red": w["still_red"],
        }
        for w in doc["workflows"]
        if w["branch_class"] == "default" and w["still_red"]
    ]
    return {
        "schema": "greenline.pipeline-health/1",
        "window": doc["window"],
        "healthy": all(v is not False for v in checks.values()) and not red,
        "default_branch": {
            "runs": main["runs"],
            "success_rate": rate,
            "recovery_mean_s": recovery,
            "still_red": red[:TOP],
        },
        "duration_p50_s": everything["duration_p50_s"],
        "duration_p95_s": everything["duration_p95_s"],
        "checks": checks,
        "most_failing_workflows": [
            {
                "workflow": w["workflow"],
                "workflow_label": w["workflow_label"],
                "failures": w["failures"],
            }
            for w in doc["most_failing_workflows"][:3]
        ],
        "findings": doc["findings"][:4],
        "culprits": doc.get("culprits"),
    }


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 10:
        return f"{seconds:.2f}s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s" if sec else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def findings(doc: dict[str, Any]) -> list[str]:
    """Plain-language findings, most important first."""
    out: list[str] = []
    main = doc["overall"]["default"]
    rate = main["success_rate"]
    if rate is not None:
        bar, median = RECOMMENDED["success_rate_default"], INDUSTRY_2026["success_rate_default"]
        side = "below" if rate < bar else "at or above"
        vs_median = "below" if rate < median else "above"
        aside = (
            "cancelled runs aside; skipped ones count as not successful"
            if doc["definitions"]["name"] == "report"
            else "cancelled and skipped runs aside"
        )
        out.append(
            f"The default branch succeeds in {percent(rate)} of runs ({main['successes']} of "
            f"{main['rated']}, {aside}), {side} the 90% "
            f"benchmark and {vs_median} the 2026 median of 70.8%."
        )
    if main["recovery_mean_s"] is not None:
        worst = _worst_recovery(doc["workflows"])
        where = f", mostly in workflow `{worst}`" if worst else ""
        limit = "over" if main["recovery_mean_s"] >= RECOMMENDED["recovery_s"] else "within"
        out.append(
            f"Recovery takes {human_duration(main['recovery_mean_s'])} on average "
            f"({_plural(main['recoveries'], 'red streak')} recovered{where}), {limit} the "
            "60-minute "
            f"benchmark (2026 median: 72 minutes)."
        )
    if main["still_red"]:
        out.append(f"{main['still_red']} default-branch workflow(s) are still red.")
    culprits = doc.get("culprits")
    if culprits and culprits["searches"]:
        fast = culprits["median_s_to_culprit"]
        when = f", a median {human_duration(fast)} after the red run" if fast is not None else ""
        out.append(
            f"greenline searched {_plural(culprits['searches'], 'red run')} for a culprit: "
            f"{culprits['found']} found and confirmed{when}, {culprits['no_culprit']} flaky."
        )
    p50 = doc["overall"]["all"]["duration_p50_s"]
    if p50 is not None:
        slowest = doc["slowest_workflows"]
        slow = slowest[0]["workflow_label"] if slowest else None
        verdict = "within" if p50 <= RECOMMENDED["duration_s"] else "over"
        note = f"; the slowest workflow is `{slow}`" if slow else ""
        out.append(
            f"Half of all runs take {human_duration(p50)} or less (P95 "
            f"{human_duration(doc['overall']['all']['duration_p95_s'])}), {verdict} the "
            f"10-minute benchmark{note}."
        )
    speed = doc["two_speed"]
    if speed["feature_growth"] is not None and speed["default_growth"] is not None:
        basis = "a year before" if speed["basis"] == "year_ago" else "the previous period"
        out.append(
            f"Throughput against {basis}: feature branches {signed(speed['feature_growth'])}, "
            f"the default branch {signed(speed['default_growth'])} (2026 industry: +15% and "
            "-7%)."
        )
    lost = doc["overall"]["all"]["failed_run_seconds"]
    if lost:
        out.append(f"Runs that failed used {human_duration(lost)} of CI time.")
    flaky = doc["flaky"]
    if flaky["wasted_seconds"]:
        out.append(
            f"Flaky tests cost {human_duration(flaky['wasted_seconds'])} of reruns and failed "
            f"runs ({flaky['tests']} flaky test(s); see greenline flaky list)."
        )
    return out


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def signed(value: float | None) -> str:
    """A relative change as ``+12%`` ("" when there is none)."""
    return "" if value is None else f"{value * 100:+.0f}%"


def _worst_recovery(workflows: list[dict[str, Any]]) -> str | None:
    """The default-branch workflow with the most time spent red (sum over recoveries)."""
    best, most = None, 0.0
    for w in workflows:
        if w["branch_class"] != "default" or w["recovery_mean_s"] is None:
            continue
        total = w["recovery_mean_s"] * w["recoveries"]
        if total > most:
            best, most = w["workflow_label"], total
    return best
