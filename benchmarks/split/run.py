"""Shard balance on real suites: greenline's split against the lower bound, round-robin by file
and pytest-split, predicted from recorded durations for N = 2, 4, 8 and measured for N = 2.

For each project (its own test suite, from its PyPI source distribution) one plain pytest run
records every test's duration (``--greenline-results``: setup, call and teardown together).
Every strategy is then judged on those same durations: the predicted makespan of a split is
its slowest shard's summed duration, against the lower bound max(total / N, longest test).

- greenline: ``greenline.selection.split`` (what ``--greenline-shard`` and ``greenline split``
  use), from the recorded durations;
- round-robin by file: the test files in order, file i on shard i mod N (a static split);
- pytest-split 0.11 (installed from the registry into the benchmark's venv), both of its
  algorithms: ``duration_based_chunks`` (its default) and ``least_duration``, fed the same
  durations through its ``--durations-path`` file; its groups are read back from its own
  plugin with ``--collect-only``.

For N = 2 both shards of greenline's and of pytest-split's default split also run for real,
one after the other (the machine has 2 cores), each shard's wall time measured; the measured
makespan is the slower shard's. Results go to ``results/split.json``; a Markdown table is
printed.

    python benchmarks/split/run.py                       # boltons, marshmallow, cachetools
    python benchmarks/split/run.py --project boltons
    python benchmarks/split/run.py --smoke               # synthetic durations only (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from corpus import REPO, clean_state, log, make_venv, pytest_cmd, python_tag  # noqa: E402

sys.path.insert(0, str(REPO / "src"))
from greenline.model.shards import encode_plan  # noqa: E402
from greenline.selection.split import split_tests  # noqa: E402

PROJECTS = {name: corpus.PROJECTS[name] for name in ("boltons", "marshmallow", "cachetools")}
SHARDS = (2, 4, 8)
PYTEST_SPLIT = "pytest-split==0.11.0"
ALGORITHMS = ("duration_based_chunks", "least_duration")
TARGET = 0.05  # within 5% of the lower bound
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("GREENLINE_", "PYTEST_"))}


def record_durations(venv: Path, path: Path, tests: tuple[str, ...]) -> dict[str, float]:
    """Each test's duration from one plain run (its final attempt)."""
    clean_state(path)
    out = WORK / f"durations-{path.name}.jsonl"
    cmd = pytest_cmd(venv, path, tests, "-p", "greenline", f"--greenline-results={out}")
    subprocess.run(cmd, cwd=path, env=ENV, stdout=subprocess.DEVNULL, check=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return {r["test_id"]: float(r["duration"]) for r in rows if "test_id" in r}


def lower_bound(durations: Mapping[str, float], shards: int) -> float:
    return max(sum(durations.values()) / shards, max(durations.values()))


def makespan(groups: list[list[str]], durations: Mapping[str, float]) -> float:
    return max(sum(durations.get(t, 0.0) for t in group) for group in groups)


def round_robin_by_file(durations: Mapping[str, float], shards: int) -> list[list[str]]:
    files = sorted({t.split("::", 1)[0] for t in durations})
    home = {f: i % shards for i, f in enumerate(files)}
    groups: list[list[str]] = [[] for _ in range(shards)]
    for test_id in durations:
        groups[home[test_id.split("::", 1)[0]]].append(test_id)
    return groups


def greenline_groups(durations: Mapping[str, float], shards: int) -> list[list[str]]:
    plan = split_tests(dict(durations), shards)
    return [plan.tests_of(i) for i in range(shards)]


def pytest_split_groups(
    venv: Path,
    path: Path,
    tests: tuple[str, ...],
    durations_file: Path,
    shards: int,
    algorithm: str,
) -> list[list[str]]:
    """pytest-split's own groups, read back from its plugin (``--collect-only -q``)."""
    groups = []
    for group in range(1, shards + 1):
        cmd = pytest_cmd(
            venv,
            path,
            tests,
            "--collect-only",
            "-p",
            "no:greenline",
            f"--splits={shards}",
            f"--group={group}",
            f"--splitting-algorithm={algorithm}",
            f"--durations-path={durations_file}",
        )
        out = subprocess.run(cmd, cwd=path, env=ENV, capture_output=True, text=True, check=False)
        groups.append([line for line in out.stdout.splitlines() if "::" in line])
    return groups


def measure_shards(
    venv: Path, path: Path, tests: tuple[str, ...], shard_args: list[list[str]]
) -> list[float]:
    """Each shard's wall time, run one after the other."""
    seconds = []
    for args in shard_args:
        clean_state(path)
        start = time.perf_counter()
        subprocess.run(
            pytest_cmd(venv, path, tests, *args),
            cwd=path,
            env=ENV,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        seconds.append(time.perf_counter() - start)
    return seconds


def judge(groups: list[list[str]], durations: Mapping[str, float], shards: int) -> dict[str, float]:
    bound = lower_bound(durations, shards)
    span = makespan(groups, durations)
    return {"makespan": round(span, 4), "over_bound": round(span / bound - 1, 4)}


def bench_project(venv: Path, project: corpus.Project) -> dict[str, object]:
    path = corpus.fetch(WORK, project)
    log(f"{project.name}: recording durations")
    durations = record_durations(venv, path, project.tests)
    durations_file = WORK / f"test_durations-{project.name}.json"
    durations_file.write_text(json.dumps(durations))
    entry: dict[str, object] = {
        "project": f"{project.name} {project.version}",
        "tests": len(durations),
        "total": round(sum(durations.values()), 3),
        "longest": round(max(durations.values()), 4),
        "shards": {},
    }
    for shards in SHARDS:
        log(f"{project.name}: {shards} shards")
        row: dict[str, object] = {"lower_bound": round(lower_bound(durations, shards), 4)}
        row["greenline"] = judge(greenline_groups(durations, shards), durations, shards)
        row["round_robin_by_file"] = judge(
            round_robin_by_file(durations, shards), durations, shards
        )
        for algorithm in ALGORITHMS:
            groups = pytest_split_groups(
                venv, path, project.tests, durations_file, shards, algorithm
            )
            missing = set(durations) - {t for g in groups for t in g}
            row[f"pytest_split_{algorithm}"] = {
                **judge(groups, durations, shards),
                "unplaced": len(missing),
            }
        entry["shards"][str(shards)] = row  # type: ignore[index]
    entry["measured_2"] = measure_two(venv, path, project, durations, durations_file)
    return entry


def measure_two(
    venv: Path,
    path: Path,
    project: corpus.Project,
    durations: Mapping[str, float],
    durations_file: Path,
) -> dict[str, object]:
    log(f"{project.name}: measuring 2 shards")
    plan_file = WORK / f"plan-{project.name}.json"
    plan_file.write_text(encode_plan(split_tests(dict(durations), 2)))
    ours = [
        ["-p", "greenline", f"--greenline-shard={i}/2", f"--greenline-shard-plan={plan_file}"]
        for i in range(2)
    ]
    theirs = [
        ["-p", "no:greenline", "--splits=2", f"--group={g}", f"--durations-path={durations_file}"]
        for g in (1, 2)
    ]
    whole = measure_shards(venv, path, project.tests, [[]])[0]
    mine = measure_shards(venv, path, project.tests, ours)
    other = measure_shards(venv, path, project.tests, theirs)
    return {
        "whole_suite": round(whole, 3),
        "greenline": {"shards": [round(s, 3) for s in mine], "makespan": round(max(mine), 3)},
        "pytest_split_duration_based_chunks": {
            "shards": [round(s, 3) for s in other],
            "makespan": round(max(other), 3),
        },
    }


def synthetic_durations(seed: int, count: int) -> dict[str, float]:
    """A suite shaped like real ones: many fast tests, a long tail, a few slow files."""
    rng = random.Random(seed)
    durations = {}
    for i in range(count):
        seconds = rng.lognormvariate(-5.0, 1.6)
        durations[f"tests/test_m{i % 37}.py::test_{i}"] = round(min(seconds, 2.0), 6)
    return durations


def smoke() -> int:
    """The engine on synthetic suites against the bound and round-robin (no downloads)."""
    failures = 0
    for seed in (1, 2, 3):
        durations = synthetic_durations(seed, 600)
        for shards in SHARDS:
            ours = judge(greenline_groups(durations, shards), durations, shards)
            static = judge(round_robin_by_file(durations, shards), durations, shards)
            ok = ours["over_bound"] <= TARGET and ours["makespan"] <= static["makespan"]
            failures += not ok
            print(
                f"seed {seed} N={shards}: greenline +{ours['over_bound']:.2%} over the bound, "
                f"round-robin by file +{static['over_bound']:.2%}"
            )
    return 1 if failures else 0


def shards_cell(measured: Mapping[str, object]) -> str:
    each = " / ".join(f"{s:.2f}" for s in measured["shards"])  # type: ignore[attr-defined]
    return f"{measured['makespan']:.2f}s ({each})"


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| suite | N | lower bound | greenline | pytest-split duration_based_chunks (default) "
        "| pytest-split least_duration | round-robin by file |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        for n, row in entry["shards"].items():  # type: ignore[attr-defined]
            cells = [f"{row['lower_bound']:.2f}s"]
            for key in (
                "greenline",
                "pytest_split_duration_based_chunks",
                "pytest_split_least_duration",
                "round_robin_by_file",
            ):
                cells.append(f"{row[key]['makespan']:.2f}s ({row[key]['over_bound']:+.1%})")
            lines.append(f"| {entry['project']} | {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| suite | whole suite | greenline, 2 shards (measured) "
        "| pytest-split, 2 groups (measured) |",
        "|---|---|---|---|",
    ]
    for entry in results:
        m = entry["measured_2"]
        g, p = m["greenline"], m["pytest_split_duration_based_chunks"]  # type: ignore[index]
        lines.append(
            f"| {entry['project']} | {m['whole_suite']:.2f}s | {shards_cell(g)} "  # type: ignore[index]
            f"| {shards_cell(p)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS))
    parser.add_argument(
        "--smoke", action="store_true", help="synthetic durations only, no downloads"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "split.json")
    parser.add_argument("--table", action="store_true", help="print the table of --out again")
    args = parser.parse_args()
    if args.smoke:
        return smoke()
    if args.table:
        print(table(json.loads(args.out.read_text())["results"]))
        return 0
    projects = [PROJECTS[n] for n in (args.project or sorted(PROJECTS))]
    WORK.mkdir(parents=True, exist_ok=True)
    venv = make_venv(WORK, sys.executable, projects)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            PYTEST_SPLIT,
        ],
        check=True,
    )
    results = [bench_project(venv, p) for p in projects]
    doc = {
        "command": "python benchmarks/split/run.py " + " ".join(sys.argv[1:]),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "machine": {
            "python": python_tag(sys.executable),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "target": f"within {TARGET:.0%} of the lower bound",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
