"""Recording overhead on real projects: plain pytest vs ``--greenline-record`` (at function and at
branch granularity) vs ``--testmon``.

For each Python interpreter and each project (its own test suite, from its PyPI source
distribution) the modes run interleaved, ``--repeat`` times, each from a clean state (no store,
no .testmondata, no .pytest_cache), and the median wall time of each is compared with plain
pytest's. The CPU time of each run (user and system, pytest and every process it waited for, the
store writer included) is kept too: on a machine shared with other work it moves far less than
wall time. Results go to ``results/record-<python>.json`` and Markdown tables are printed.

    python benchmarks/record/run.py                 # all projects, every Python found
    python benchmarks/record/run.py --project boltons --repeat 5
    python benchmarks/record/run.py --smoke         # the bundled example only, once (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from corpus import (  # noqa: E402
    REPO,
    anchor_pytest,
    clean_state,
    fetch,
    find_pythons,
    init_git,
    log,
    make_venv,
    python_tag,
    tracer_of,
)

PROJECTS = {
    name: corpus.PROJECTS[name]
    for name in ("boltons", "marshmallow", "cachetools", "python-slugify", "more-itertools")
}
MODES = {
    "plain": [],
    "greenline": ["--greenline-record"],
    "greenline-branch": ["--greenline-record", "--greenline-granularity=branch"],
    "testmon": ["--testmon"],
}


@dataclass
class Timing:
    mode: str
    seconds: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_mode(
    venv: Path, path: Path, tests: tuple[str, ...], mode: str
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and exit code of one run."""
    clean_state(path)
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-x",
        "--rootdir",
        str(path),
        *tests,
        *MODES[mode],
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")}
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start, children_cpu() - cpu, proc.returncode


def bench_project(venv: Path, path: Path, tests: tuple[str, ...], repeat: int) -> dict[str, Timing]:
    timings = {mode: Timing(mode) for mode in MODES}
    for round_ in range(repeat):
        for mode in MODES:  # interleaved, so drift in machine load hits every mode alike
            seconds, cpu, code = time_mode(venv, path, tests, mode)
            timings[mode].seconds.append(round(seconds, 3))
            timings[mode].cpu.append(round(cpu, 3))
            timings[mode].exit_codes.append(code)
            log(
                f"  round {round_ + 1}/{repeat} {mode:<16} {seconds:6.2f}s, "
                f"{cpu:6.2f}s CPU (exit {code})"
            )
    return timings


def summarize(name: str, timings: dict[str, Timing]) -> dict[str, object]:
    plain = timings["plain"].median
    plain_cpu = statistics.median(timings["plain"].cpu)
    return {
        "project": name,
        "modes": {
            mode: {
                "seconds": t.seconds,
                "median": round(t.median, 3),
                "ratio_to_plain": round(t.median / plain, 3),
                "cpu_seconds": t.cpu,
                "cpu_median": round(statistics.median(t.cpu), 3),
                "cpu_ratio_to_plain": round(statistics.median(t.cpu) / plain_cpu, 3),
                "exit_codes": t.exit_codes,
            }
            for mode, t in timings.items()
        },
    }


def markdown(reports: list[dict[str, object]]) -> str:
    lines = [
        "| Python (tracer) | project | plain pytest | greenline record | greenline record, "
        "branch | testmon | greenline ÷ plain | branch ÷ plain | testmon ÷ plain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        head = f"{report['python']} ({report['tracer']})"
        for row in report["projects"]:  # type: ignore[attr-defined]
            m = row["modes"]
            branch = m.get("greenline-branch")  # results from before branch granularity: none
            branch_time = f"{branch['median']:.2f}s" if branch else "–"
            branch_ratio = f"{branch['ratio_to_plain']:.2f}×" if branch else "–"
            lines.append(
                f"| {head} | {row['project']} | {m['plain']['median']:.2f}s | "
                f"{m['greenline']['median']:.2f}s | {branch_time} | "
                f"{m['testmon']['median']:.2f}s | "
                f"**{m['greenline']['ratio_to_plain']:.2f}×** | {branch_ratio} | "
                f"{m['testmon']['ratio_to_plain']:.2f}× |"
            )
    cpu_rows = [
        (report, row)
        for report in reports
        for row in report["projects"]  # type: ignore[attr-defined]
        if "cpu_median" in row["modes"]["plain"]  # results from before CPU time was kept: none
    ]
    if cpu_rows:
        lines += [
            "",
            "| Python (tracer) | project | CPU: plain | "
            + " | ".join(f"{mode} ÷ plain" for mode in MODES if mode != "plain")
            + " |",
            "|---|---|---|" + "---|" * (len(MODES) - 1),
        ]
        for report, row in cpu_rows:
            m = row["modes"]
            ratios = " | ".join(
                f"{m[mode]['cpu_ratio_to_plain']:.2f}×" for mode in MODES if mode != "plain"
            )
            lines.append(
                f"| {report['python']} ({report['tracer']}) | {row['project']} | "
                f"{m['plain']['cpu_median']:.2f}s | {ratios} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS))
    parser.add_argument("--python", action="append", help="interpreter(s) to measure")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="the bundled example, once")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    pythons = args.python or ([sys.executable] if args.smoke else find_pythons())
    projects = [PROJECTS[n] for n in (args.project or ([] if args.smoke else sorted(PROJECTS)))]
    repeat = 1 if args.smoke else args.repeat
    out = args.out if not args.smoke else WORK / "smoke-results"
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for python in pythons:
        venv = make_venv(WORK, python, projects)
        tag = python_tag(python)
        report: dict[str, object] = {
            "benchmark": "record-overhead",
            "python": tag,
            "tracer": tracer_of(venv),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "repeat": repeat,
            "projects": [],
        }
        targets: list[tuple[str, Path, tuple[str, ...]]] = []
        if args.smoke:
            example = WORK / "src" / "shop"
            if not example.exists():
                shutil.copytree(REPO / "examples" / "shop", example)
                anchor_pytest(example)
                init_git(example)
            targets.append(("example shop", example, ("tests",)))
        targets += [(p.name, fetch(WORK, p), p.tests) for p in projects]
        for name, path, tests in targets:
            log(f"{name} on Python {tag}")
            timings = bench_project(venv, path, tests, repeat)
            report["projects"].append(summarize(name, timings))  # type: ignore[attr-defined]
        (out / f"record-{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
        reports.append(report)
    print(markdown(reports))
    bad = [
        (r["python"], row["project"], mode)
        for r in reports
        for row in r["projects"]  # type: ignore[attr-defined]
        for mode, m in row["modes"].items()
        if any(code not in (0, 1) for code in m["exit_codes"])
    ]
    if bad:
        log(f"some runs did not finish normally: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
