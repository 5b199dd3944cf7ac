"""Flaky-test detection, root causes and fixes, measured on a corpus with known answers.

``corpus/`` is a small project written for this benchmark: 30 flaky tests across 9 root causes
(order-dependent victims with their polluters and cleaners, tests that fail alone, unseeded
randomness, set order, time, network errors, float noise, thread races, async timeouts, shared
files) and 62 stable tests, among them decoys that look flaky but are deterministic.
``labels.json`` is the ground truth. The corpus is copied into ``work/``, made a git repository,
and ``greenline flaky scan`` runs on it with the installed greenline; then, with ``--fixes``,
``greenline flaky fix`` on each flaky test it found (in a fresh copy each time, not applied).

Measured: detection recall (order-dependent tests and the others apart) and precision, root-cause
macro-F1 over the labelled categories, polluters found, verified fixes and whether any of them
weakens a test, and the runs and time the scan spent.

    python benchmarks/flaky/run.py                 # scan with 20 runs
    python benchmarks/flaky/run.py --runs 50 --fixes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

from corpus import init_git, log  # noqa: E402

GREENLINE = [sys.executable, "-m", "greenline"]


def fresh_copy(name: str) -> Path:
    target = WORK / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(HERE / "corpus", target, ignore=shutil.ignore_patterns("__pycache__"))
    init_git(target)
    return target


def greenline(root: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    proc = subprocess.run(
        [*GREENLINE, *args], cwd=root, capture_output=True, text=True, check=False
    )
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        doc = None
    return proc.returncode, doc, proc.stderr.strip()


def f1(labels: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    """Per-category F1 of the predicted root causes, over the labelled flaky tests."""
    out = {}
    for category in sorted(set(labels.values())):
        tp = sum(1 for t, c in labels.items() if c == category and predicted.get(t) == category)
        fp = sum(1 for t, c in predicted.items() if c == category and labels.get(t) != category)
        fn = sum(1 for t, c in labels.items() if c == category and predicted.get(t) != category)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out[category] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return out


def weakens(diff: str) -> bool:
    """A patch that removes a line, or adds an assert, a sleep, a skip, a retry or an xfail."""
    for line in diff.splitlines():
        if line.startswith("-") and not line.startswith("---"):
            return True
        if line.startswith("+") and not line.startswith("+++"):
            lowered = line.lower()
            if any(w in lowered for w in ("assert", "sleep", "skip", "xfail", "retry", "rerun")):
                return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fixes", action="store_true", help="also try a fix for each flaky test")
    parser.add_argument(
        "--fix-categories",
        default="order-dependent,randomness",
        help="root causes greenline synthesises fixes for (the others count as not fixed)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    truth = json.loads((HERE / "labels.json").read_text())["flaky"]
    labels = {t: v["category"] for t, v in truth.items()}
    root = fresh_copy("scan")
    log(f"scanning {root} with {args.runs} runs")
    start = time.monotonic()
    code, doc, err = greenline(
        root,
        "flaky",
        "scan",
        "--runs",
        str(args.runs),
        "--workers",
        str(args.workers),
        "-f",
        "json",
    )
    seconds = time.monotonic() - start
    if code != 0 or doc is None:
        log(f"the scan failed ({code}): {err}")
        return 1
    tests = {t["test_id"]: t for t in doc["tests"]}
    flagged = {t for t, v in tests.items() if v["verdict"] == "flaky"}
    order = {t for t, c in labels.items() if c == "order-dependent"}
    others = set(labels) - order
    predicted = {t: tests[t]["category"] for t in flagged}
    per_category = f1(labels, predicted)
    polluters_right = sum(
        1
        for t in order & flagged
        if set(tests[t]["polluters"]) == set(truth[t].get("polluters", []))
    )
    report: dict[str, Any] = {
        "benchmark": "flaky",
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "runs": args.runs,
        "tests": len(tests),
        "labelled_flaky": len(labels),
        "scan": {"trials": doc["trials"], "seconds": round(seconds, 1)},
        "recall_order_dependent": len(order & flagged) / len(order),
        "recall_others": len(others & flagged) / len(others),
        "precision": len(flagged & set(labels)) / len(flagged) if flagged else 1.0,
        "false_positives": sorted(flagged - set(labels)),
        "missed": sorted(set(labels) - flagged),
        "root_cause_f1": per_category,
        "root_cause_macro_f1": statistics.mean(per_category.values()),
        "polluters_found": f"{polluters_right} of {len(order & flagged)}",
        "predicted": predicted,
    }
    if args.fixes:
        fixed, weakened, attempts = [], [], {}
        fixable = set(args.fix_categories.split(","))
        for test_id in sorted(flagged & set(labels)):
            if predicted.get(test_id) not in fixable:
                attempts[test_id] = {"exit": None, "offered": False}
                continue
            copy = fresh_copy("fix")
            code, fix, err = greenline(copy, "flaky", "fix", test_id, "-f", "json")
            attempts[test_id] = {"exit": code, "offered": bool(fix and fix["fixed"])}
            if fix and fix["fixed"]:
                fixed.append(test_id)
                if weakens(fix["patch"]["diff"]):
                    weakened.append(test_id)
            log(f"  fix {test_id}: {'verified patch' if fix and fix['fixed'] else 'none'}")
        report["fixes"] = {
            "verified": len(fixed),
            "share_of_flaky": len(fixed) / len(labels),
            "weakening": weakened,
            "attempts": attempts,
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flaky.json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


def markdown(r: dict[str, Any]) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.0f}%"

    lines = [
        "| measure | result | target |",
        "|---|---|---|",
        f"| recall, order-dependent ({r['runs']} runs) | "
        f"{pct(r['recall_order_dependent'])} | ≥ 95% |",
        f"| recall, other causes | {pct(r['recall_others'])} | ≥ 80% |",
        f"| precision | {pct(r['precision'])} | ≥ 98% |",
        f"| root-cause macro-F1 | {r['root_cause_macro_f1']:.2f} | ≥ 0.8 |",
        f"| polluters found exactly | {r['polluters_found']} | |",
        f"| scan | {r['scan']['trials']} runs, {r['scan']['seconds']:.0f} s | |",
    ]
    if "fixes" in r:
        fixes = r["fixes"]
        lines.append(f"| verified fixes | {pct(fixes['share_of_flaky'])} of flaky tests | ≥ 60% |")
        lines.append(f"| fixes that weaken a test | {len(fixes['weakening'])} | 0 |")
    lines.append("")
    lines.append(
        "Root-cause F1 per category: "
        + ", ".join(f"{c} {v:.2f}" for c, v in r["root_cause_f1"].items())
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
