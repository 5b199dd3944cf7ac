"""Does learning from history rank better than the heuristic? Measured on the same seeded mutants.

For each project: record a clean baseline, then replay the first half of the mutants as history
(each one applied to the working tree and the suite run with ``--greenline-record``: greenline
stores the affected tests' features and outcomes), learn a model (``greenline ranking learn``),
and on the second half compare greenline's order with the model against its order with the
heuristic (both see the same history): detection at budgets of 5/10/20% of the suite's time and
time to the first failing test. The held-out check greenline itself makes before adopting a
model (AUC on its newest runs) is reported too.

    python benchmarks/selection/learning.py                  # every project, 50 mutants each
    python benchmarks/selection/learning.py --project boltons
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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from run import (  # noqa: E402
    BUDGETS,
    PROJECTS,
    TIMEOUT_FACTOR,
    WORK,
    bench_env,
    greenline_select,
    log,
    make_mutants,
    pct,
    pytest_cmd,
    run_suite,
    score,
    stable_tests,
)


def ensure_learning(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    if subprocess.run([python, "-c", "import sklearn"], capture_output=True).returncode != 0:
        log("installing scikit-learn into the benchmark environment")
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "scikit-learn"],
            check=True,
        )


def record(venv: Path, root: Path, tests: tuple[str, ...], scratch: Path) -> None:
    out = scratch / "record.jsonl"
    out.unlink(missing_ok=True)
    subprocess.run(
        pytest_cmd(venv, root, tests, "--greenline-record"),
        cwd=root,
        env=bench_env(out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def learn_now(venv: Path, root: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(venv / "bin" / "greenline"), "ranking", "learn", "--format", "json"],
        cwd=root,
        env=bench_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else "?"}
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def bench_project(
    venv: Path, root: Path, tests: tuple[str, ...], source: str, count: int, seed: int
) -> dict[str, Any]:
    scratch = WORK / "scratch" / f"learn-{root.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=root, check=True)
    corpus.clean_state(root)
    clean = run_suite(venv, root, tests, scratch, timeout=None)
    suite = sum(clean.seconds.values())
    stable = stable_tests(clean, run_suite(venv, root, tests, scratch, timeout=None))
    timeout = max(10.0, TIMEOUT_FACTOR * clean.wall)
    record(venv, root, tests, scratch)  # the baseline
    mutants = make_mutants(root, source, count, seed)
    half = len(mutants) // 2
    for n, mutant in enumerate(mutants[:half], 1):
        target = root / mutant.path
        original = target.read_bytes()
        target.write_bytes(mutant.apply(original))
        try:
            record(venv, root, tests, scratch)
        finally:
            target.write_bytes(original)
        log(f"  history [{n}/{half}] {mutant.describe()}")
    model = learn_now(venv, root)
    log(f"  learned: {json.dumps(model.get('model') or model)[:300]}")
    rows: list[dict[str, Any]] = []
    for n, mutant in enumerate(mutants[half:], 1):
        target = root / mutant.path
        original = target.read_bytes()
        target.write_bytes(mutant.apply(original))
        try:
            truth = run_suite(venv, root, tests, scratch, timeout)
            if truth.timed_out:
                continue
            failing = {t for t in stable if t in truth.failed or t not in truth.seconds}
            if not failing:
                continue
            row: dict[str, Any] = {"mutant": mutant.describe(), "failing": len(failing)}
            for name, heuristic in (("heuristic", True), ("learned", False)):
                plan = greenline_select(venv, root, heuristic=heuristic)
                row[name] = score(plan["safe"], plan["budgets"], failing, clean.seconds, suite)
                row[name]["ranker"] = plan["ranker"]
            rows.append(row)
        finally:
            target.write_bytes(original)
        log(f"  evaluate [{n}/{len(mutants) - half}] {mutant.describe()}")
    summary: dict[str, Any] = {}
    for name in ("heuristic", "learned"):
        if not rows:
            break
        summary[name] = {
            "ranker": rows[-1][name]["ranker"],
            "median_ttff_share": statistics.median(r[name]["ttff_share"] for r in rows),
            **{
                f"recall_at_{b:.0%}": sum(r[name]["budgets"][f"{b:.0%}"] for r in rows) / len(rows)
                for b in BUDGETS
            },
        }
    return {
        "history_mutants": half,
        "evaluated_mutants": len(rows),
        "model": model.get("model") if "model" in model else model,
        "summary": summary,
        "results": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| project | history (examples, failing) | held-out AUC: model / heuristic | adopted "
        "| evaluated mutants | ranking | 5% budget | 10% budget | 20% budget "
        "| median time to 1st failure |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["projects"].items():
        model = row["model"] or {}
        held = model.get("held_out") or {}
        auc = (
            f"{held['auc_model']:.3f} / {held['auc_heuristic']:.3f}" if "auc_model" in held else "–"
        )
        history = (
            f"{model['examples']} ({model['failing']})"
            if "examples" in model
            else model.get("error", "–")
        )
        for ranking, s in row["summary"].items():
            budgets = " | ".join(pct(s[f"recall_at_{b:.0%}"]) for b in BUDGETS)
            lines.append(
                f"| {name} | {history} | {auc} | {model.get('adopted', '–')} | "
                f"{row['evaluated_mutants']} | {ranking} ({s['ranker']}) | {budgets} | "
                f"{pct(s['median_ttff_share'])} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS))
    parser.add_argument("--python", default=None)
    parser.add_argument("--mutants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    python = args.python or corpus.find_pythons()[-1]
    # smallest suites first
    order = ("python-slugify", "cachetools", "pluggy", "boltons", "marshmallow", "humanize")
    projects = [PROJECTS[n] for n in (args.project or order)]
    venv = corpus.make_venv(WORK, python, projects)
    ensure_learning(venv)
    tag = corpus.python_tag(python)
    report: dict[str, Any] = {
        "benchmark": "selection-learning",
        "python": tag,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "seed": args.seed,
        "mutants_per_project": args.mutants,
        "projects": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for project in projects:
        root = corpus.fetch(WORK, project)
        log(f"{project.name} on Python {tag}: learning")
        report["projects"][project.name] = bench_project(
            venv, root, project.tests, project.source, args.mutants, args.seed
        )
        # after every project, so a long run that is stopped keeps what it measured
        out = args.out / f"selection-learning-{tag}.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
