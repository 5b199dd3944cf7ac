"""How the store grows with runs that record the same coverage, on SQLite: a suite of synthetic
tests (each running a fixed slice of 5,000 blocks over 100 modules) is stored run after run,
results and coverage, in one fresh store; after each run the file's size (with its write-ahead
log), the CPU time of writing the run's coverage, and the time to read the coverage of one
changed file (what ``select`` reads) and every test's coverage size are reported.

    python benchmarks/store/run.py                   # 10,000 tests of 20 blocks, 5 runs
    python benchmarks/store/run.py --tests 64000 --blocks 18
    python benchmarks/store/run.py --smoke

Results: benchmarks/store/results/store.json (store-smoke.json for --smoke).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenline.model import Block, CommitInfo, Outcome, RunStatus, TestResult
from greenline.store import Store, reads, writes

HERE = Path(__file__).resolve().parent
BLOCKS, MODULES = 5000, 100


def store_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def measure(tests: int, per_test: int, runs: int) -> list[dict[str, Any]]:
    per_module = BLOCKS // MODULES
    blocks = [
        Block(f"pkg/mod_{i // per_module:03d}.py", f"f_{i % per_module}", f"{i:016x}")
        for i in range(BLOCKS)
    ]
    coverage = {
        f"tests/test_{i % 300:03d}.py::test_{i}": [
            blocks[(i * 7 + k * 13) % BLOCKS] for k in range(per_test)
        ]
        for i in range(tests)
    }
    out = []
    with tempfile.TemporaryDirectory(prefix="greenline-store-bench-") as folder:
        path = Path(folder) / "greenline.db"
        with Store(f"sqlite:///{path}") as store:
            for n in range(1, runs + 1):
                with store.write() as conn:
                    repo = writes.ensure_repository(conn, "bench/store", folder)
                    run = writes.insert_run(
                        conn,
                        repo_id=repo,
                        commit=CommitInfo(sha="a" * 40, branch="main"),
                        environment=None,
                        source="pytest",
                        started_at=datetime.now(UTC),
                    )
                before = store_bytes(path)
                with store.write() as conn:
                    results = [TestResult(t, Outcome.PASSED, 0.01) for t in coverage]
                    history = writes.BatchHistory()
                    pks = writes.insert_results(conn, run, repo, results, history=history)
                    cpu = time.process_time()
                    writes.insert_coverage(conn, run, repo, coverage, pks, history)
                    writes.finish_run(conn, run, RunStatus.COMPLETE)
                    cpu = time.process_time() - cpu
                began = time.perf_counter()
                with store.read() as conn:
                    changed = reads.run_coverage(conn, run, {"pkg/mod_003.py"})
                    sizes = reads.coverage_sizes(conn, run)
                read_ms = (time.perf_counter() - began) * 1000
                with store.read() as conn:
                    rows = reads.count_rows(conn)
                after = store_bytes(path)
                out.append(
                    {
                        "run": n,
                        "store_mb": round(after / 1e6, 2),
                        "added_mb": round((after - before) / 1e6, 2),
                        "coverage_write_cpu_s": round(cpu, 3),
                        "read_changed_file_and_sizes_ms": round(read_ms, 1),
                        "tests_of_changed_file": len(changed),
                        "tests_with_coverage": len(sizes),
                        "rows": {
                            k: rows[k] for k in ("coverage", "coverage_sets", "coverage_set_blocks")
                        },
                    }
                )
                print(f"[store bench] run {n}: {out[-1]}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=20, help="blocks each test runs")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="1,000 tests, 3 runs (CI)")
    parser.add_argument("--output", default=None, help="results file (under results/)")
    args = parser.parse_args(argv)
    tests, runs = (1000, 3) if args.smoke else (args.tests, args.runs)
    measured = measure(tests, args.blocks, runs)
    doc = {
        "schema": "greenline.bench-store/1",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "size": {"tests": tests, "blocks_per_test": args.blocks, "runs": runs},
        "runs": measured,
    }
    name = args.output or ("store-smoke.json" if args.smoke else "store.json")
    target = HERE / "results" / Path(name).name
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results: {target.relative_to(HERE.parent.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
