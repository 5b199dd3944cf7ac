"""Delivery insights at the industry report's scale: bulk ingest rate and metric time at 1M, 10M
and 28M workflow runs, and the memory peak, on this machine.

For each size: a synthetic history (``generate.py``: teams of different sizes, main and feature
branches, failure streaks, cancellations, reruns) is written as Parquet and as CSV; each is
ingested into an empty warehouse with ``greenline insights ingest table`` (timed); then
``greenline insights metrics --format json`` over the last 30 days of the history (timed,
three times, a fresh process each). Memory is the peak resident size of each measured process
(``wait4``'s resource usage of that child alone).

    python benchmarks/insights/run.py                 # 1M, 10M, 28M
    python benchmarks/insights/run.py --sizes 1000000
    python benchmarks/insights/run.py --smoke         # 200,000 runs, CI's quick check

Results: benchmarks/insights/results/insights.json (or insights-smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
TARGETS = {"ingest_runs_per_s": 200_000, "metrics_s_at_28m": 10.0}


def timed(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run a command; (seconds, peak resident memory of that process in MiB, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr}")
    return seconds, usage.ru_maxrss // 1024, stdout


def greenline(*args: str) -> list[str]:
    return [sys.executable, "-m", "greenline", *args]


def count_rows(path: Path) -> int:
    """Rows in a generated file, counted by DuckDB in a child process."""
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    query = f"SELECT count(*) FROM {reader}('{path}')"
    code = (
        "import duckdb; con = duckdb.connect(); con.execute('SET enable_progress_bar = false'); "
        f"print(con.execute({query!r}).fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout)


def measure(size: int, seed: int) -> dict[str, object]:
    folder = WORK / f"{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result: dict[str, object] = {"runs_requested": size}
    for fmt in ("parquet", "csv"):
        source = folder / f"runs.{fmt}"
        # in a child process: a forked child's peak memory counts its parent's, so the parent
        # stays small (DuckDB never runs in it)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(HERE / "generate.py"),
                "--runs",
                str(size),
                "--out",
                str(source),
                "--seed",
                str(seed),
            ],
            check=True,
            capture_output=True,
        )
        result[f"generate_{fmt}_s"] = round(time.perf_counter() - started, 2)
        rows = count_rows(source)
        repo = folder / f"repo-{fmt}"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        seconds, peak, _ = timed(greenline("insights", "ingest", "table", str(source)), repo)
        result[f"ingest_{fmt}"] = {
            "rows": rows,
            "seconds": round(seconds, 2),
            "runs_per_s": round(rows / seconds),
            "peak_mib": peak,
            "source_mib": round(source.stat().st_size / 2**20, 1),
        }
        if fmt == "csv":
            shutil.rmtree(repo)  # the Parquet warehouse is the one the metrics read
        source.unlink()
    repo = folder / "repo-parquet"
    runs = []
    for _ in range(3):
        seconds, peak, out = timed(
            greenline("insights", "metrics", "--days", "30", "-f", "json"), repo
        )
        runs.append((seconds, peak))
    doc = json.loads(out)
    result["metrics"] = {
        "seconds": [round(s, 2) for s, _ in runs],
        "median_s": round(sorted(s for s, _ in runs)[1], 2),
        "peak_mib": max(p for _, p in runs),
        "window_runs": doc["overall"]["all"]["runs"],
        "workflows": len(doc["workflows"]),
    }
    warehouse = repo / ".greenline" / "insights"
    result["warehouse_mib"] = round(
        sum(f.stat().st_size for f in warehouse.rglob("*.parquet")) / 2**20, 1
    )
    print(json.dumps({size: result}, indent=1), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 28_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/insights/work")
    args = parser.parse_args(argv)
    sizes = [200_000] if args.smoke else args.sizes
    results = {str(size): measure(size, args.seed) for size in sizes}
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "targets": TARGETS,
        "sizes": results,
    }
    out = HERE / "results" / ("insights-smoke.json" if args.smoke else "insights.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"results: {out}")
    for size, r in results.items():
        ingest = r["ingest_parquet"]
        metrics = r["metrics"]
        assert isinstance(ingest, dict) and isinstance(metrics, dict)
        peak = max(ingest["peak_mib"], metrics["peak_mib"])
        print(
            f"{int(size):>11,} runs: ingest {ingest['runs_per_s']:,} runs/s (Parquet), "
            f"metrics {metrics['median_s']} s, peak {peak} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
