"""The recovery benchmark's figures from its trials: per strategy and flake rate, accuracy on
culprit and no-culprit trials, refusals, wrong revert proposals, test executions and wall time;
triage's verdict accuracy and time; the targets, each with whether it is met. Also renders the
README table from a results file: ``python benchmarks/recovery/summary.py [results.json]``."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

STRATEGIES = ("greenline", "bisect", "bisect-3", "newest")
REFUSALS = ("undecided", "ambiguous")


def judge(trial: dict, answer: dict) -> str:
    """correct, refused, error (greenline crashed twice) or wrong: a culprit trial wants the
    inserted commit, a no-culprit trial wants "no culprit" (bisection and newest always name a
    commit there: wrong)."""
    if answer["status"] in REFUSALS:
        return "refused"
    if answer["status"] == "error":
        return "error"
    if trial["culprit"]:
        return "correct" if answer["named"] == trial["culprit"] else "wrong"
    return "correct" if answer["status"] == "no-culprit" else "wrong"


def is_wrong_revert(trial: dict, answer: dict) -> bool:
    return answer["named"] is not None and answer["named"] != trial["culprit"]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def strategy_row(trials: list[dict], name: str) -> dict:
    culprit = [t for t in trials if t["culprit"]]
    clean = [t for t in trials if not t["culprit"]]
    verdict = {id(t): judge(t, t["strategies"][name]) for t in trials}
    executions = [t["strategies"][name]["executions"] for t in trials]
    found = [
        t["strategies"][name]["seconds"]
        for t in culprit
        if verdict[id(t)] == "correct" and t["strategies"][name].get("confirmed", True)
    ]
    return {
        "culprit_trials": len(culprit),
        "culprit_correct": _share(sum(verdict[id(t)] == "correct" for t in culprit), len(culprit)),
        "culprit_refused": _share(sum(verdict[id(t)] == "refused" for t in culprit), len(culprit)),
        "no_culprit_trials": len(clean),
        "no_culprit_correct": _share(sum(verdict[id(t)] == "correct" for t in clean), len(clean)),
        "no_culprit_refused": _share(sum(verdict[id(t)] == "refused" for t in clean), len(clean)),
        "crashed_searches": sum(len(t["strategies"][name].get("crashes", ())) for t in trials),
        "errors": sum(verdict[id(t)] == "error" for t in trials),
        "wrong_reverts": sum(is_wrong_revert(t, t["strategies"][name]) for t in trials),
        "executions_mean": round(statistics.mean(executions), 1) if executions else None,
        "executions_p95": p95(executions),
        "seconds_to_culprit_median": round(statistics.median(found), 2) if found else None,
    }


def triage_row(trials: list[dict]) -> dict:
    done = [t for t in trials if "correct" in t["triage"]]
    culprit = [t for t in done if t["culprit"]]
    clean = [t for t in done if not t["culprit"]]
    seconds = [t["triage"]["seconds"] for t in trials]
    return {
        "regression_correct": _share(sum(t["triage"]["correct"] for t in culprit), len(culprit)),
        "flaky_correct": _share(sum(t["triage"]["correct"] for t in clean), len(clean)),
        "regression_called_flaky": sum(t["triage"]["regression_called_flaky"] for t in culprit),
        "culprit_trials": len(culprit),
        "errors": len(trials) - len(done),
        "seconds_median": round(statistics.median(seconds), 3) if seconds else None,
        "seconds_max": max(seconds) if seconds else None,
    }


def summarize(trials: list[dict]) -> dict:
    rates = sorted({t["rate"] for t in trials})
    groups = {f"rate {r}": [t for t in trials if t["rate"] == r] for r in rates}
    groups["all"] = trials
    return {
        name: {
            "trials": len(group),
            "strategies": {s: strategy_row(group, s) for s in STRATEGIES},
            "triage": triage_row(group),
        }
        for name, group in groups.items()
        if group
    }


def targets(trials: list[dict]) -> list[dict]:
    """Each target of the issue with the measured value and whether it is met."""
    low = [t for t in trials if t["rate"] <= 0.2]
    high = [t for t in trials if t["rate"] == 0.5]
    g_low, g_high = strategy_row(low, "greenline"), strategy_row(high, "greenline")
    g_all = strategy_row(trials, "greenline")
    b3_low = strategy_row(low, "bisect-3")
    tri = triage_row(trials)
    ok_low = _ok_or_refused(g_low)
    ok_high = _ok_or_refused(g_high)
    rows = [
        ("culprit found or refused, flake rate <= 0.2", ok_low, ">= 0.99", _ge(ok_low, 0.99)),
        ("culprit found or refused, flake rate 0.5", ok_high, ">= 0.97", _ge(ok_high, 0.97)),
        (
            "no-culprit trials answered no culprit",
            g_all["no_culprit_correct"],
            ">= 0.98",
            _ge(g_all["no_culprit_correct"], 0.98),
        ),
        (
            "test executions vs bisect-3 (mean, rate <= 0.2)",
            f"{g_low['executions_mean']} vs {b3_low['executions_mean']}",
            "<=",
            _le(g_low["executions_mean"], b3_low["executions_mean"]),
        ),
        (
            "median seconds to a confirmed culprit",
            g_all["seconds_to_culprit_median"],
            "<= 180",
            _le(g_all["seconds_to_culprit_median"], 180),
        ),
        ("wrong revert proposals", g_all["wrong_reverts"], "0", g_all["wrong_reverts"] == 0),
        (
            "real regressions called flaky/infra/already-failing",
            _share(tri["regression_called_flaky"], tri["culprit_trials"]),
            "<= 0.005",
            _le(_share(tri["regression_called_flaky"], tri["culprit_trials"]), 0.005),
        ),
        (
            "triage of a stored run, seconds (max)",
            tri["seconds_max"],
            "<= 2",
            _le(tri["seconds_max"], 2),
        ),
    ]
    return [{"target": n, "measured": m, "wanted": w, "met": bool(ok)} for n, m, w, ok in rows]


def _ok_or_refused(row: dict) -> float | None:
    if row["culprit_correct"] is None:
        return None
    return round(row["culprit_correct"] + row["culprit_refused"], 4)


def _ge(value: float | None, bound: float) -> bool:
    return value is not None and value >= bound


def _le(value: float | None, bound: float | None) -> bool:
    return value is not None and bound is not None and value <= bound


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def _num(value: object) -> str:
    return "–" if value is None else str(value)


def markdown(doc: dict) -> str:
    """The README tables: per flake rate and strategy, then triage, then the targets."""
    lines = [
        "| flake rate | strategy | culprit trials: correct / refused | no-culprit trials: "
        "correct | wrong reverts | test executions mean / p95 | median s to culprit | "
        "crashed searches |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group, cell in doc["summary"].items():
        for name, row in cell["strategies"].items():
            refused = f" / {_pct(row['culprit_refused'])}" if name == "greenline" else ""
            lines.append(
                f"| {group.removeprefix('rate ')} ({cell['trials']}) | {name} | "
                f"{_pct(row['culprit_correct'])}{refused} ({row['culprit_trials']}) | "
                f"{_pct(row['no_culprit_correct'])} ({row['no_culprit_trials']}) | "
                f"{row['wrong_reverts']} | {row['executions_mean']} / {row['executions_p95']} | "
                f"{_num(row['seconds_to_culprit_median'])} | {row['crashed_searches']} |"
            )
    lines += [
        "",
        "| flake rate | triage: regressions called regression | flaky-only failure "
        "called flaky | regressions called flaky/infra/already-failing | seconds median / max |",
        "|---|---|---|---|---|",
    ]
    for group, cell in doc["summary"].items():
        tri = cell["triage"]
        lines.append(
            f"| {group.removeprefix('rate ')} | {_pct(tri['regression_correct'])} | "
            f"{_pct(tri['flaky_correct'])} | {tri['regression_called_flaky']} of "
            f"{tri['culprit_trials']} | {tri['seconds_median']} / {tri['seconds_max']} |"
        )
    lines += ["", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for row in doc["targets"]:
        lines.append(
            f"| {row['target']} | {_num(row['measured'])} | {row['wanted']} | "
            f"{'yes' if row['met'] else '**no**'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent / "results" / "recovery.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else here
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))
