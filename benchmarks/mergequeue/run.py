"""The merge-queue strategies compared in the simulator (the same engine as ``greenline queue
run``): p = 0.3 of changes break tests by themselves, 5% conflict with a recent change, 3% of
runs fail in a flaky test, 16 runners, 30-minute CI, 1,000 changes, 70% load, several seeds.

Load: changes arrive at 70% of the rate the runners could take if every change needed one
pre-check run and, when it passes, one gate run: ``0.7 * runners / ((2 - p) * CI duration)``.

Then the queue on pull requests runs through the fake GitHub on loopback (``forge.py``):
webhook latency (delivery to the engine's step) and API calls per landed pull request.

    python benchmarks/mergequeue/run.py                 # seeds 1-5, every strategy; 20 PRs
    python benchmarks/mergequeue/run.py --smoke         # 200 changes, 2 seeds; 5 PRs (CI)

Results: benchmarks/mergequeue/results/mergequeue.json (or mergequeue-smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from greenline.mergequeue.simulate import Scenario, load_arrival_rate, simulate
from greenline.model.queue import Strategy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from forge import run_forge  # noqa: E402

TARGETS = {
    "main_green_share": ">= 1.0",
    "throughput_vs_serial": ">= 5",
    "ci_runs_per_merge": "<= 2.7",
    "merge_p95_ci": "<= 3",
    "rejection_p95_ci": "<= 1.5",
    "innocent_share": "<= 0.01",
}
METRICS = (
    "throughput_per_ci_duration",
    "ci_runs_per_merge",
    "merge_p50_ci",
    "merge_p95_ci",
    "rejection_p95_ci",
    "innocent_share",
    "main_green_share",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--load", type=float, default=0.7)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.changes, args.seeds = 200, [1, 2]
    runners, p, ci = 16, 0.3, 30.0
    rate = load_arrival_rate(args.load, runners, p, ci)
    per: dict[str, list[dict[str, Any]]] = {s.value: [] for s in Strategy}
    started = time.perf_counter()
    for seed in args.seeds:
        for strategy in Strategy:
            scenario = Scenario(
                changes=args.changes,
                fail_rate=p,
                conflict_rate=0.05,
                flake_rate=0.03,
                ci_minutes=ci,
                runners=runners,
                arrival_rate=rate,
                strategy=strategy,
                seed=seed,
            )
            per[strategy.value].append(simulate(scenario).summary())
    seconds = time.perf_counter() - started
    work = HERE / "work" / ("forge-smoke" if args.smoke else "forge")
    shutil.rmtree(work, ignore_errors=True)
    forge = run_forge(work, smoke=args.smoke)
    serial = statistics.mean(r["throughput_per_ci_duration"] for r in per["serial"])
    table = {}
    for name, runs in per.items():
        row = {m: _worst(m, [r[m] for r in runs]) for m in METRICS}
        row["throughput_vs_serial"] = round(row["throughput_per_ci_duration"] / serial, 2)
        table[name] = row
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "scenario": {
            "changes": args.changes,
            "fail_rate": p,
            "conflict_rate": 0.05,
            "flake_rate": 0.03,
            "runners": runners,
            "ci_minutes": ci,
            "load": args.load,
            "arrival_per_hour": round(rate, 2),
            "seeds": args.seeds,
        },
        "targets": TARGETS,
        "worst_over_seeds": table,
        "runs": per,
        "seconds": round(seconds, 1),
        "forge": forge,
    }
    out = HERE / "results" / ("mergequeue-smoke.json" if args.smoke else "mergequeue.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(
        f"{'strategy':<13}" + "".join(f"{m[:18]:>20}" for m in ("throughput_vs_serial", *METRICS))
    )
    for name, row in table.items():
        print(
            f"{name:<13}" + "".join(f"{row[m]!s:>20}" for m in ("throughput_vs_serial", *METRICS))
        )
    step, answer = forge["webhook_to_engine_step"], forge["webhook_answer"]
    print(
        f"through {forge['through']} ({forge['ci']}): {forge['pull_requests']} pull requests, "
        f"{forge['landed']} landed, {forge['ejected']} ejected, right: {forge['outcome_right']}, "
        f"main green: {forge['main_green_at_every_landing']}"
    )
    print(
        f"  webhook -> engine step p50 {step['ci_verdict']['p50_ms']} ms, p95 "
        f"{step['ci_verdict']['p95_ms']} ms (CI verdicts); label -> queued p50 "
        f"{step['label']['p50_ms']} ms; server's answer p95 {answer['p95_ms']} ms"
    )
    print(
        f"  API calls per landed PR {forge['api_calls_per_landed_pr']}, CI runs per landed PR "
        f"{forge['ci_runs_per_landed_pr']} ({forge['seconds']} s)"
    )
    print(f"results: {out} ({seconds:.0f} s simulated)")
    return 0


def _worst(metric: str, values: list[Any]) -> Any:
    """The worst seed's value: lowest throughput and green share, highest of the rest."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if metric in ("throughput_per_ci_duration", "main_green_share"):
        return min(present)
    return max(present)


if __name__ == "__main__":
    raise SystemExit(main())
