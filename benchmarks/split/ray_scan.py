"""The flaky scan fanned out on Ray against local processes, on this machine: runs per minute.

A real suite from the corpus (``cachetools`` unless ``--project`` says another) is scanned by
``greenline flaky scan --runs R --workers 2`` twice, once with ``--executor local`` (reruns as
processes here) and once with ``--executor ray`` on a real local cluster (a head and a second
node, one CPU each, in a network namespace of their own: ``tests/ray/cluster.py``), both from
the benchmark's environment (the project installed, ``greenline[ray]`` beside it, the cluster
started from it). The figure is the scan's runs of the suite (its ``trials``) per minute of the
command's wall time, and both scans must reach the same verdicts. On one machine Ray cannot be
faster than local processes (the same two cores, plus shipping the tree and Ray's workers):
the figure says what the fan-out costs here, so that a cluster's gain can be judged against it.

    python benchmarks/split/ray_scan.py                  # -> results/ray-scan.json
    python benchmarks/split/ray_scan.py --project boltons --runs 4
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from corpus import REPO, clean_state, log, make_venv, python_tag  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.ray.cluster import ClusterUnavailableError, RayCluster, local_cluster  # noqa: E402

PROJECTS = ("cachetools", "boltons", "marshmallow")


def with_ray(venv: Path) -> None:
    """Ray in the benchmark's environment, the version greenline's own has."""
    version = importlib.metadata.version("ray")
    if not (venv / "bin" / "ray").exists():
        log(f"installing ray {version} into {venv}")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--disable-pip-version-check", f"ray=={version}"], check=True)


def scan(cluster: RayCluster, path: Path, executor: str, runs: int) -> dict[str, Any]:
    clean_state(path)
    started = time.monotonic()
    done = cluster.greenline(
        path, "flaky", "scan", "--runs", str(runs), "--workers", "2",
        "--executor", executor, "-f", "json",
        env={"PYTEST_ADDOPTS": "-p no:cacheprovider"},
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the {executor} scan failed ({done.returncode}):\n{done.stderr[-3000:]}")
    doc = json.loads(done.stdout)
    trials = int(doc["trials"])
    return {
        "executor": executor,
        "trials": trials,
        "seconds": round(wall, 2),
        "runs_per_minute": round(trials / wall * 60, 1),
        "verdicts": {t["test_id"]: t["verdict"] for t in doc["tests"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", choices=PROJECTS, default="cachetools")
    parser.add_argument("--runs", type=int, default=6, help="the scan's --runs (default 6)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ray-scan.json")
    args = parser.parse_args()
    project = corpus.PROJECTS[args.project]
    WORK.mkdir(parents=True, exist_ok=True)
    venv = make_venv(WORK, sys.executable, [project])
    with_ray(venv)
    path = corpus.fetch(WORK, project)
    load_before = [round(x, 1) for x in os.getloadavg()]
    try:
        with local_cluster(venv / "bin") as cluster:
            rows = [scan(cluster, path, executor, args.runs) for executor in ("local", "ray")]
    except ClusterUnavailableError as exc:
        print(f"ray_scan: no local Ray cluster here: {exc}", file=sys.stderr)
        return 3
    local, ray = rows
    same = local["verdicts"] == ray["verdicts"]
    doc = {
        "command": "python benchmarks/split/ray_scan.py " + " ".join(sys.argv[1:]),
        "project": f"{project.name} {project.version}",
        "runs": args.runs,
        "load_average": {"before": load_before, "after": [round(x, 1) for x in os.getloadavg()]},
        "machine": {
            "python": python_tag(sys.executable),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "cluster": "a head and a second node on this machine, 1 CPU each",
        "scans": [{k: v for k, v in r.items() if k != "verdicts"} for r in rows],
        "verdict_counts": dict(Counter(local["verdicts"].values())),
        "same_verdicts": same,
        "ray_over_local": round(ray["runs_per_minute"] / local["runs_per_minute"], 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print("| executor | suite runs | seconds | runs per minute |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['executor']} | {row['trials']} | {row['seconds']} | {row['runs_per_minute']} |"
        )
    print(f"same verdicts: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
