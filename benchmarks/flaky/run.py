"""Flaky-test detection, root causes and fixes, measured on corpora with known answers.

Two corpora, written apart from each other, each with its labels:

- ``corpus/`` (``labels.json``): one small project, 30 flaky tests across 9 root causes
  (order-dependent victims with their polluters and cleaners, tests that fail alone, unseeded
  randomness, set order, time, network errors, float noise, thread races, async timeouts, shared
  files) and 62 stable tests, among them decoys that look flaky but are deterministic;
- ``corpus2/`` (``labels2.json``): four small projects (a shop, an event bus, a configuration
  loader, a job scheduler), 49 flaky tests and 92 stable ones: order dependence through class
  and instance attributes, nested containers, registries of handlers, monkeypatched functions,
  the working directory, environment variables, ``sys.path``, ``sys.modules``, logging,
  warnings filters and the decimal context; set order that shows through the code under test;
  timing thresholds; the wall clock; randomness; concurrency and network flakes.

Each label says the test's root cause, its kind (what carries the flakiness), what it depends
on, and whether the cause lies in the concurrency or network of the code under test (no
test-side fix exists by design). Each project is copied into ``work/``, made a git repository,
and ``greenline flaky scan`` runs on it with the installed greenline; then, with ``--fixes``,
``greenline flaky fix --apply`` on each flaky test it found, each in a fresh copy of the
scanned project (so the fix reuses the scan's root cause, as it would after a scan in CI). Each
applied patch is checked against the original for any weakened assertion (this script's own
check, apart from greenline's guard), and checked to hold beyond greenline's own verification:
after every labelled polluter, and alone under other hash seeds.

Measured: detection recall (order-dependent tests and the others apart) and precision,
root-cause macro-F1 over the labelled categories, polluters found, verified fixes over all
flaky tests and over those whose cause is not in concurrency or the network, per kind and per
root cause, whether any fix weakens a test, and the runs and time spent.

    python benchmarks/flaky/run.py                          # the first corpus, scan with 20 runs
    python benchmarks/flaky/run.py --corpus corpus2 --fixes
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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

from corpus import init_git, log  # noqa: E402

GREENLINE = [sys.executable, "-m", "greenline"]
#: corpus folder -> (its labels, the results file)
CORPORA = {
    "corpus": ("labels.json", "flaky.json"),
    "corpus2": ("labels2.json", "flaky-corpus2.json"),
}
#: runs of a fixed test after each labelled polluter (or alone), each with another hash seed
HOLD_RUNS = 3


@dataclass(frozen=True)
class Project:
    name: str
    source: Path
    labels: dict[str, dict[str, Any]]


def projects_of(corpus: str) -> list[Project]:
    """The corpus's projects with their labels: one project when the corpus folder is one."""
    labels_file, _ = CORPORA[corpus]
    doc = json.loads((HERE / labels_file).read_text())
    folder = HERE / corpus
    if "projects" not in doc:
        return [Project(corpus, folder, doc["flaky"])]
    return [Project(name, folder / name, p["flaky"]) for name, p in doc["projects"].items()]


def fresh_copy(project: Project, name: str) -> Path:
    target = WORK / project.source.relative_to(HERE) / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(project.source, target, ignore=shutil.ignore_patterns("__pycache__"))
    init_git(target)
    # one repository name for every copy (greenline names a repository by its origin)
    subprocess.run(
        ["git", "remote", "add", "origin", f"https://example.org/bench/{project.name}.git"],
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


# the weakening check (this script's own, apart from greenline's guard) ----------------------

WEAKENING_WORDS = ("sleep", "skip", "xfail", "retry", "rerun", "flaky")


class _Unwrap(ast.NodeTransformer):
    """Remove the wrappers a fix may add around an asserted expression: ``sorted(x)`` (or
    ``sorted(x, key=repr)``) and a ``pytest.approx(x, rel=r)`` tight enough to be float noise
    (r <= 1e-9)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = ast.unparse(node.func)
        by_repr = [ast.unparse(k) for k in node.keywords] == ["key=repr"]
        if name == "sorted" and len(node.args) == 1 and (not node.keywords or by_repr):
            return node.args[0]
        if name == "pytest.approx" and len(node.args) == 1:
            rel = [k.value for k in node.keywords if k.arg == "rel"]
            if len(node.keywords) == 1 and rel and ast.literal_eval(rel[0]) <= 1e-9:
                return node.args[0]
        return node


def _is_assertion(node: ast.AST) -> bool:
    """An ``assert``, or a unittest assertion (``self.assertEqual(...)``, ``self.fail()``)."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr.startswith(("assert", "fail"))
    return False


def _asserts(source: str) -> list[str]:
    tree = _Unwrap().visit(ast.parse(source))
    return sorted(ast.dump(n) for n in ast.walk(tree) if _is_assertion(n))


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


# does a fix hold beyond greenline's own verification? ---------------------------------------


def _passes(root: Path, tests: list[str], hash_seed: int) -> bool:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "outcomes.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "-p",
                "greenline",
                f"--greenline-outcomes={out}",
                *tests,
            ],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True,
            timeout=300,
            check=False,
        )
        rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return any(r["test_id"] == tests[-1] and r["outcome"] == "passed" for r in rows)


def polluter_sets(label: dict[str, Any]) -> list[list[str]]:
    if "polluters_any" in label:
        return [list(p) for p in label["polluters_any"]]
    return [list(label["polluters"])] if label.get("polluters") else []


def holds(root: Path, test_id: str, label: dict[str, Any]) -> bool:
    """The fixed test passes after every labelled polluter (a test that fails alone: alone),
    each under other hash seeds; a test with no polluter, alone under other hash seeds."""
    if label["category"] == "order-dependent" and not label.get("fails_alone"):
        conditions = [[*s, test_id] for s in polluter_sets(label)]
    else:
        conditions = [[test_id]] * 2
    seeds = iter(range(1000, 2000))
    return all(_passes(root, tests, next(seeds)) for tests in conditions for _ in range(HOLD_RUNS))


def polluters_right(label: dict[str, Any], found: list[str]) -> bool:
    return any(set(found) == set(s) for s in polluter_sets(label))


# one project --------------------------------------------------------------------------------


def scan_project(project: Project, runs: int, workers: int) -> dict[str, Any] | None:
    root = fresh_copy(project, "scan")
    log(f"[{project.name}] scanning {root} with {runs} runs")
    start = time.monotonic()
    code, doc, err = greenline(
        root, "flaky", "scan", "--runs", str(runs), "--workers", str(workers), "-f", "json"
    )
    if code != 0 or doc is None:
        log(f"[{project.name}] the scan failed ({code}): {err}")
        return None
    return {"root": root, "doc": doc, "seconds": round(time.monotonic() - start, 1)}


def fix_project(
    project: Project, root: Path, flagged: set[str], predicted: dict[str, str], fixable: set[str]
) -> dict[str, Any]:
    attempts: dict[str, Any] = {}
    for test_id in sorted(flagged & set(project.labels)):
        if "all" not in fixable and predicted.get(test_id) not in fixable:
            attempts[test_id] = {"exit": None, "offered": False}
            continue
        copy = WORK / project.source.relative_to(HERE) / "fix"  # the scanned project, its store
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        started = time.monotonic()
        code, fix, err = greenline(copy, "flaky", "fix", test_id, "--apply", "-f", "json")
        offered = bool(fix and fix["fixed"])
        attempt: dict[str, Any] = {
            "exit": code,
            "offered": offered,
            "seconds": round(time.monotonic() - started, 1),
            "patch": fix["patch"] if fix else None,
            "not_offered": fix["not_offered"] if fix else err[-500:],
        }
        if offered:
            path = fix["patch"]["path"]
            original = project.source / path
            before = original.read_text() if original.exists() else ""
            attempt["weakens"] = weakens(before, (copy / path).read_text())
            attempt["holds"] = holds(copy, test_id, project.labels[test_id])
        attempts[test_id] = attempt
        verdict = "verified patch" if offered else "none"
        if offered and not attempt["holds"]:
            verdict += ", which does not hold after every labelled polluter"
        log(f"  [{project.name}] fix {test_id}: {verdict}")
    return attempts


# the report ---------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def _tally(keys: dict[str, str], fixed: set[str]) -> dict[str, str]:
    return {
        k: f"{sum(keys[t] == k for t in fixed)} of {sum(v == k for v in keys.values())}"
        for k in sorted(set(keys.values()))
    }


def report_of(
    corpus: str, args: argparse.Namespace, projects: list[Project], scans: dict[str, Any]
) -> dict[str, Any]:
    labels = {f"{p.name}/{t}": v for p in projects for t, v in p.labels.items()}
    category = {t: v["category"] for t, v in labels.items()}
    tests: dict[str, Any] = {}
    for p in projects:
        tests.update({f"{p.name}/{t['test_id']}": t for t in scans[p.name]["doc"]["tests"]})
    flagged = {t for t, v in tests.items() if v["verdict"] == "flaky"}
    order = {t for t, c in category.items() if c == "order-dependent"}
    others = set(labels) - order
    predicted = {t: tests[t]["category"] for t in flagged}
    per_category = f1(category, predicted)
    found_order = order & flagged
    right = sum(polluters_right(labels[t], tests[t]["polluters"]) for t in found_order)
    report: dict[str, Any] = {
        "benchmark": "flaky",
        "corpus": corpus,
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "runs": args.runs,
        "projects": [p.name for p in projects],
        "tests": len(tests),
        "labelled_flaky": len(labels),
        "scan": {
            "trials": sum(s["doc"]["trials"] for s in scans.values()),
            "seconds": round(sum(s["seconds"] for s in scans.values()), 1),
        },
        "recall": _share(len(flagged & set(labels)), len(labels)),
        "recall_order_dependent": _share(len(found_order), len(order)),
        "recall_others": _share(len(others & flagged), len(others)),
        "precision": _share(len(flagged & set(labels)), len(flagged)),
        "false_positives": sorted(flagged - set(labels)),
        "missed": sorted(set(labels) - flagged),
        "root_cause_f1": per_category,
        "root_cause_macro_f1": statistics.mean(per_category.values()),
        "polluters_found": f"{right} of {len(found_order)}",
        "predicted": predicted,
    }
    if args.fixes:
        report["fixes"] = fixes_of(labels, scans)
    return report


def fixes_of(labels: dict[str, dict[str, Any]], scans: dict[str, Any]) -> dict[str, Any]:
    attempts = {
        f"{name}/{t}": a for name, s in scans.items() for t, a in s.get("attempts", {}).items()
    }
    fixed = {t for t, a in attempts.items() if a["offered"]}
    fixable = {t for t, v in labels.items() if not v.get("cause_in")}
    kinds = {t: v.get("kind", v["category"]) for t, v in labels.items()}
    return {
        "verified": len(fixed),
        "share_of_flaky": _share(len(fixed), len(labels)),
        "fixable": len(fixable),
        "share_of_fixable": _share(len(fixed & fixable), len(fixable)),
        "by_category": _tally({t: v["category"] for t, v in labels.items()}, fixed),
        "by_kind": _tally(kinds, fixed),
        "weakening": sorted(t for t in fixed if attempts[t].get("weakens")),
        "not_holding": sorted(t for t in fixed if not attempts[t].get("holds")),
        "seconds": round(sum(a.get("seconds", 0) for a in attempts.values()), 1),
        "not_fixed": {
            t: (attempts[t]["not_offered"] if t in attempts else ["not found flaky"])
            for t in sorted(set(labels) - fixed)
        },
        "attempts": attempts,
    }


def markdown(r: dict[str, Any]) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.0f}%"

    lines = [
        f"Corpus `{r['corpus']}`: {len(r['projects'])} project(s), {r['tests']} tests, "
        f"{r['labelled_flaky']} flaky",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| recall ({r['runs']} runs) | {pct(r['recall'])} | ≥ 95% |",
        f"| recall, order-dependent | {pct(r['recall_order_dependent'])} | |",
        f"| recall, other causes | {pct(r['recall_others'])} | |",
        f"| precision | {pct(r['precision'])} | ≥ 98% |",
        f"| root-cause macro-F1 | {r['root_cause_macro_f1']:.2f} | |",
        f"| polluters found exactly | {r['polluters_found']} | |",
        f"| scan | {r['scan']['trials']} runs, {r['scan']['seconds']:.0f} s | |",
    ]
    if "fixes" in r:
        fixes = r["fixes"]
        fixable = fixes["fixable"]
        lines += [
            f"| verified fixes, all flaky tests | {pct(fixes['share_of_flaky'])} "
            f"({fixes['verified']} of {r['labelled_flaky']}) | ≥ 60% |",
            f"| verified fixes, cause not in concurrency or network | "
            f"{pct(fixes['share_of_fixable'])} of {fixable} | ≥ 90% |",
            f"| fixes that weaken a test | {len(fixes['weakening'])} | 0 |",
            f"| fixes that do not hold after every labelled polluter | "
            f"{len(fixes['not_holding'])} | |",
            "",
            "Verified fixes per kind: "
            + ", ".join(f"{k} {n}" for k, n in fixes["by_kind"].items()),
        ]
    lines += [
        "",
        "Root-cause F1 per category: "
        + ", ".join(f"{c} {v:.2f}" for c, v in r["root_cause_f1"].items()),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="corpus")
    parser.add_argument("--project", action="append", help="only these projects of the corpus")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fixes", action="store_true", help="also try a fix for each flaky test")
    parser.add_argument(
        "--fix-categories",
        default="all",
        help="root causes to ask greenline to fix (comma-separated; 'all': every one, "
        "greenline says why when it has no fix)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    projects = [p for p in projects_of(args.corpus) if not args.project or p.name in args.project]
    scans: dict[str, Any] = {}
    for project in projects:
        scan = scan_project(project, args.runs, args.workers)
        if scan is None:
            return 1
        scans[project.name] = scan
        if args.fixes:
            tests = {t["test_id"]: t for t in scan["doc"]["tests"]}
            flagged = {t for t, v in tests.items() if v["verdict"] == "flaky"}
            predicted = {t: tests[t]["category"] for t in flagged}
            started = time.monotonic()
            scan["attempts"] = fix_project(
                project, scan["root"], flagged, predicted, set(args.fix_categories.split(","))
            )
            log(f"[{project.name}] fixes took {time.monotonic() - started:.0f} s")
    report = report_of(args.corpus, args, projects, scans)
    args.out.mkdir(parents=True, exist_ok=True)
    name = CORPORA[args.corpus][1] if not args.project else f"flaky-{args.corpus}-part.json"
    (args.out / name).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
