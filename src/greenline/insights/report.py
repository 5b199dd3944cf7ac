"""The delivery report: one self-contained HTML file (plotly.js inlined, no network) with the
findings, the headline figures against the benchmarks, weekly trends and the worst workflows.

Every name from the data (workflows, jobs, branches) is escaped for HTML, and chart data is
embedded as JSON with ``<`` escaped, so a hostile workflow name cannot end the script."""

from __future__ import annotations

import html
import json
import string
from datetime import datetime
from importlib import resources
from typing import Any

from greenline.insights.summary import (
    INDUSTRY_2026,
    RECOMMENDED,
    human_duration,
    percent,
    signed,
)

CLASS_NAMES = {"default": "default branch", "other": "other branches"}
COLORS = {"default": "#1f6f43", "other": "#7a5cc7"}


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:  # pragma: no cover - the insights extra brings plotly
        from greenline.errors import StoreError

        raise StoreError(
            "the HTML report needs plotly, which is not installed",
            hint="pip install 'greenline[insights]'",
        ) from None
    return str(get_plotlyjs())


def _series(weekly: list[dict[str, Any]], key: str, scale: float = 1.0) -> list[dict[str, Any]]:
    traces = []
    for cls in ("default", "other"):
        rows = [w for w in weekly if w["branch_class"] == cls]
        if not rows:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": CLASS_NAMES[cls],
                "x": [w["week"][:10] for w in rows],
                "y": [None if w[key] is None else w[key] * scale for w in rows],
                "line": {"color": COLORS[cls]},
            }
        )
    return traces


def _line(y: float, label: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"dash": "dot", "color": "#c0392b", "width": 1.5},
        "label": {"text": label, "textposition": "end", "font": {"size": 11}},
    }


def charts(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(title, plotly figure as JSON-ready dict) per chart."""
    weekly = doc["weekly"]
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "height": 320,
        "legend": {"orientation": "h"},
        "xaxis": {"type": "date"},
    }
    out = [
        (
            "Throughput (runs per day, weekly)",
            {
                "data": _series(weekly, "throughput_per_day"),
                "layout": {**layout, "yaxis": {"title": "runs/day"}},
            },
        ),
        (
            "Success rate (weekly)",
            {
                "data": _series(weekly, "success_rate", 100),
                "layout": {
                    **layout,
                    "yaxis": {"title": "%", "range": [0, 105]},
                    "shapes": [
                        _line(RECOMMENDED["success_rate_default"] * 100, "90% benchmark"),
                        _line(INDUSTRY_2026["success_rate_default"] * 100, "2026 median 70.8%"),
                    ],
                },
            },
        ),
        (
            "Duration, P50 (minutes, weekly)",
            {
                "data": _series(weekly, "duration_p50_s", 1 / 60),
                "layout": {
                    **layout,
                    "yaxis": {"title": "minutes"},
                    "shapes": [_line(RECOMMENDED["duration_s"] / 60, "10-minute benchmark")],
                },
            },
        ),
        (
            "Mean time to recovery (minutes, weekly)",
            {
                "data": _series(weekly, "recovery_mean_s", 1 / 60),
                "layout": {
                    **layout,
                    "yaxis": {"title": "minutes"},
                    "shapes": [
                        _line(RECOMMENDED["recovery_s"] / 60, "60-minute benchmark"),
                        _line(INDUSTRY_2026["recovery_s"] / 60, "2026 median 72 min"),
                    ],
                },
            },
        ),
    ]
    failing = doc["most_failing_workflows"]
    if failing:
        bars: dict[str, Any] = {
            **layout,
            "xaxis": {"title": "failed runs"},
            "yaxis": {"automargin": True, "autorange": "reversed"},
        }
        out.append(
            (
                "Most failing workflows (failed runs)",
                {
                    "data": [
                        {
                            "type": "bar",
                            "orientation": "h",
                            "x": [w["failures"] for w in failing],
                            # plotly reads tags and entities in labels: escaped, a name
                            # shows as the text it is
                            "y": [
                                html.escape(
                                    f"{w['workflow_label']} ({CLASS_NAMES[w['branch_class']]})"
                                )
                                for w in failing
                            ],
                            "marker": {"color": "#c0392b"},
                        }
                    ],
                    "layout": bars,
                },
            )
        )
    return out


def _safe_json(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _headline_rows(doc: dict[str, Any]) -> str:
    rows = []
    for cls in ("default", "other", "all"):
        f = doc["overall"][cls]
        prev = f["change_vs_previous"]
        name = {"all": "all branches"}.get(cls, CLASS_NAMES.get(cls, cls))
        rows.append(
            "<tr>"
            f"<th>{html.escape(name)}</th>"
            f"<td>{f['runs']}</td>"
            f"<td>{f['throughput_per_day']:.1f} <small>{signed(prev['throughput'])}</small></td>"
            f"<td>{percent(f['success_rate'])} <small>{signed(prev['success_rate'])}</small></td>"
            f"<td>{human_duration(f['duration_p50_s'])} / "
            f"{human_duration(f['duration_p95_s'])}</td>"
            f"<td>{human_duration(f['recovery_mean_s'])} <small>({f['recoveries']})</small></td>"
            f"<td>{human_duration(f['longest_red_s'])}</td>"
            "</tr>"
        )
    return "\n".join(rows)


def _list_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    if not rows:
        return "<p class='none'>none in this window</p>"
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _ in columns)
    body = []
    for row in rows:
        cells = []
        for _, key in columns:
            value = row.get(key)
            if key.endswith("_s"):
                value = human_duration(value)
            cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


TABLES = (
    (
        "Slowest workflows",
        "slowest_workflows",
        [
            ("repository", "repository"),
            ("workflow", "workflow_label"),
            ("branches", "branch_class"),
            ("P50", "duration_p50_s"),
            ("runs", "runs"),
        ],
    ),
    (
        "Slowest jobs",
        "slowest_jobs",
        [("repository", "repository"), ("job", "job"), ("P50", "duration_p50_s"), ("runs", "runs")],
    ),
    (
        "Most failing jobs",
        "most_failing_jobs",
        [("repository", "repository"), ("job", "job"), ("failures", "failures"), ("runs", "runs")],
    ),
    (
        "Slowest tests",
        "slowest_tests",
        [("test", "test_id"), ("mean", "mean_duration_s"), ("runs", "runs")],
    ),
    (
        "Most failing tests",
        "most_failing_tests",
        [("test", "test_id"), ("failures", "failures"), ("runs", "runs")],
    ),
)


def render_report(doc: dict[str, Any], generated_at: datetime) -> str:
    window = doc["window"]
    figures = charts(doc)
    sections = [
        f"<section class='chart'><h3>{html.escape(title)}</h3>"
        f"<div id='chart-{i}' class='plot'></div></section>"
        for i, (title, _) in enumerate(figures)
    ]
    findings = [f"<li>{html.escape(f)}</li>" for f in doc["findings"]]
    tables = [
        f"<h2>{html.escape(title)}</h2>\n{_list_table(doc[key], columns)}"
        for title, key, columns in TABLES
    ]
    repos = ", ".join(doc["repositories"]) or "no repository"
    chosen = doc["definitions"]
    meta = (
        f"{repos} · {window['since'][:10]} to {window['until'][:10]} ({window['days']:.0f} days)"
        f" · {chosen['name']} definitions: success rate = {chosen['success_rate']}; duration = "
        f"{chosen['duration']} · generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')} by "
        "greenline"
    )
    template = resources.files("greenline.insights").joinpath("report.html").read_text("utf-8")
    return string.Template(template).substitute(
        title=html.escape(f"Delivery report: {repos}"),
        plotly=_plotly_js(),
        meta=html.escape(meta),
        findings="\n".join(findings) or "<li>No runs in this window.</li>",
        days=f"{window['days']:.0f}",
        headline=_headline_rows(doc),
        charts="\n".join(sections),
        tables="\n".join(tables),
        figures=_safe_json([fig for _, fig in figures]),
    )
