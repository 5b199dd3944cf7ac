"""Flaky-test detection, root causes and fixes, measured on a corpus with known answers.

``corpus/`` is a small project written for this benchmark: 30 flaky tests across 9 root causes
(order-dependent victims with their polluters and cleaners, tests that fail alone, unseeded
randomness, set order, time, network errors, float noise, thread races, async timeouts, shared
files) and 62 stable tests, among them decoys that look flaky but are deterministic.
``labels.json`` is the ground truth. The corpus is copied into ``work/``, made a git repository,
and ``greenline flaky scan`` runs on it with the installed greenline; then, with ``--fixes``,
``greenline flaky fix --apply`` on each flaky test it found, each in a fresh copy of the scanned
project (so the fix reuses the scan's root cause, as it would after a scan in CI), and the
applied patch is checked against the original for any weakened assertion.

Measured: detection recall (order-dependent tests and the others apart) and precision, root-cause
macro-F1 over the labelled categories, polluters found, verified fixes and whether any of them
weakens a test, and the runs and time the scan spent.

    python benchmarks/flaky/run.py                 # scan with 20 runs
    python benchmarks/flaky/run.py --runs 50 --fixes
"""

from __future__ import annotations

import argparse
import ast
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
    # one repository name for every copy (greenline names a repository by its origin)
    subprocess.run(
        ["git", "remote", "add", "origin", "https://example.org/bench/flakelab.git"],
        cwd=target,
        check=True,
    )
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


WEAKENING_WORDS = ("sleep", "skip", "xfail", "retry", "rerun", "flaky")


class _Unwrap(ast.NodeTransformer):
    """Remove the wrappers a fix may add around an asserted expression: ``sorted(x)`` and a
    ``pytest.approx(x, rel=r)`` tight enough to be float noise (r <= 1e-9)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = ast.unparse(node.func)
        if name == "sorted" and len(node.args) == 1 and not node.keywords:
            return node.args[0]
        if name == "pytest.approx" and len(node.args) == 1:
            rel = [k.value for k in node.keywords if k.arg == "rel"]
            if len(node.keywords) == 1 and rel and ast.literal_eval(rel[0]) <= 1e-9:
                return node.args[0]
        return node


def _asserts(source: str) -> list[str]:
    tree = _Unwrap().visit(ast.parse(source))
    return sorted(ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.Assert))


def weakens(before: str, after: str) -> bool:
    """Whether a fix removed or changed an assertion (beyond sorting an iteration or a
    float-noise tolerance), or added an assert, a sleep, a skip, a retry or an xfail."""
    if _asserts(before) != _asserts(after):
        return True
    added = set(after.splitlines()) - set(before.splitlines())
    removed = set(before.splitlines()) - set(after.splitlines())
    if any(w in line.lower() for line in added for w in WEAKENING_WORDS):
        return True
    # a removed line must come back rewritten (same statement once unwrapped), never dropped
    rewritten = {_statement(line) for line in added}
    return any(_statement(line) not in rewritten for line in removed if line.strip())


def _statement(line: str) -> str:
    try:
        return ast.dump(_Unwrap().visit(ast.parse(line.strip())))
    except SyntaxError:
        return line.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fixes", action="store_true", help="also try a fix for each flaky test")
    parser.add_argument(
        "--fix-categories",
        default="order-dependent,randomness,unordered-collection,floating-point,time",
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
            copy = WORK / "fix"  # the scanned project, with its store: fix reuses the scan
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(root, copy)
            started = time.monotonic()
            code, fix, err = greenline(copy, "flaky", "fix", test_id, "--apply", "-f", "json")
            attempts[test_id] = {
                "exit": code,
                "offered": bool(fix and fix["fixed"]),
                "seconds": round(time.monotonic() - started, 1),
                "patch": fix["patch"] if fix else None,
                "not_offered": fix["not_offered"] if fix else err[-500:],
            }
            if fix and fix["fixed"]:
                fixed.append(test_id)
                path = fix["patch"]["path"]
                before = (HERE / "corpus" / path).read_text()
                if weakens(before, (copy / path).read_text()):
                    weakened.append(test_id)
            log(f"  fix {test_id}: {'verified patch' if fix and fix['fixed'] else 'none'}")
        report["fixes"] = {
            "verified": len(fixed),
            "by_category": {
                c: f"{sum(labels[t] == c for t in fixed)} of {sum(v == c for v in labels.values())}"
                for c in sorted(set(labels.values()))
            },
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
            "Verified fixes per root cause: "
            + ", ".join(f"{c} {n}" for c, n in fixes["by_category"].items())
        )
    lines.append("")
    lines.append(
        "Root-cause F1 per category: "
        + ", ".join(f"{c} {v:.2f}" for c, v in r["root_cause_f1"].items())
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
