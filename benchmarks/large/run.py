"""Greenline on large suites: packaging 26.4 (64,207 tests) and jsonschema 4.26.0 (7,815).

For each Python interpreter (this one and the 3.12+ ones found here) and each project (its own
suite, from its PyPI source distribution, a git repository of its own):

- **recording**: plain pytest and ``pytest --greenline-record`` interleaved, ``--runs`` times;
  the recorded runs go to one store, run after run, the way CI records the same code again;
- **store**: the store's size (file and write-ahead log) after each recorded run;
- **select**: ``greenline select -f json`` and ``greenline select --explain`` for a one-function
  change (a ``pass`` added to the function the median covered function's tests ran, chosen from
  the store, never by name) and for a release diff (the previous release's sources over the
  package): wall time, peak memory (the process's maximum resident set) and output size;
- **planning in the plugin**: ``pytest --collect-only`` with and without
  ``--greenline-select=deselect`` for the one-function change (best of three, wall and CPU);
- **MCP**: every read tool's answer size over stdio (the official SDK's client), on the
  release diff.

Results go to ``results/large.json`` and a Markdown table with the targets is printed.

    python benchmarks/large/run.py                      # both projects, every Python found
    python benchmarks/large/run.py --project jsonschema --runs 2
    python benchmarks/large/run.py --smoke              # a generated 2,000-test project (CI)
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE.parent))

import corpus  # noqa: E402
from corpus import Project, log, pytest_cmd, tracer_of  # noqa: E402

PROJECTS = {name: corpus.PROJECTS[name] for name in ("packaging", "jsonschema")}
#: the release before the measured one: its package sources are the release diff
PREVIOUS = {"packaging": "26.3", "jsonschema": "4.25.1"}

#: the targets of issue 20 (64k tests, 2 cores)
TARGETS = {
    "select_one_function_s": 2.0,
    "select_release_s": 10.0,
    "plugin_planning_s": 1.0,
    "memory_mb": 300.0,
    "second_run_growth_mb": 5.0,
    "record_ratio_312": 1.3,
    "mcp_bytes": 16 * 1024,
}


@dataclass(frozen=True)
class Case:
    name: str
    path: Path  # the project's git repository
    tests: tuple[str, ...]
    source: str  # the package folder, relative to path
    previous: Path  # the previous release's package folder
    exclude: tuple[str, ...] = ()  # folders under source that are not the package's code


@dataclass
class Measured:
    seconds: float
    cpu: float
    max_rss_mb: float
    code: int
    stdout: bytes


def measured(cmd: list[str], cwd: Path, timeout: float = 3600) -> Measured:
    """Run ``cmd``; its wall and CPU time and its own peak memory (read by ``peak.py``, a small
    process that starts it: see there why)."""
    env = bench_env()
    env["COLUMNS"] = "200"
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        start = time.perf_counter()
        with subprocess.Popen(
            [sys.executable, str(HERE / "peak.py"), peak.name, *cmd],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as proc:
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        peak_kb = int(peak.read().strip() or 0)
    if seconds > timeout:
        raise TimeoutError(f"{cmd} took {seconds:.0f}s")
    return Measured(
        round(seconds, 3),
        round(usage.ru_utime + usage.ru_stime, 3),
        round(peak_kb / 1024, 1),
        proc.returncode,
        out,
    )


def bench_env() -> dict[str, str]:
    """This environment without greenline's settings (each project's store is its own) and
    with Python's bytecode caches on, as a user has them (a shell that turns them off would
    make every run compile greenline and pytest-rewrite the plugins again)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GREENLINE_") and k != "PYTHONDONTWRITEBYTECODE"
    }


def store_bytes(path: Path) -> int:
    db = path / ".greenline" / "greenline.db"
    wal = db.with_name(db.name + "-wal")
    return (db.stat().st_size if db.exists() else 0) + (wal.stat().st_size if wal.exists() else 0)


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout


def restore(case: Case) -> None:
    """The project as committed (the store, untracked and ignored, stays)."""
    git(case.path, "checkout", "-q", "--", ".")
    git(case.path, "clean", "-fdq", "--", case.source)


# -- recording and the store -------------------------------------------------------------------


def recording(venv: Path, case: Case, runs: int) -> dict[str, Any]:
    """Plain and recorded runs interleaved (drift in the machine's load hits both alike); the
    recorded ones go to one store, whose size is read after each."""
    corpus.clean_state(case.path)
    plain: list[Measured] = []
    recorded: list[Measured] = []
    sizes: list[int] = []
    for n in range(1, runs + 1):
        plain.append(measured(pytest_cmd(venv, case.path, case.tests), case.path))
        recorded.append(
            measured(pytest_cmd(venv, case.path, case.tests, "--greenline-record"), case.path)
        )
        sizes.append(store_bytes(case.path))
        log(
            f"  run {n}/{runs}: plain {plain[-1].seconds:.1f}s, "
            f"recorded {recorded[-1].seconds:.1f}s "
            f"(exit {plain[-1].code}/{recorded[-1].code}), store {sizes[-1] / 1e6:.1f} MB"
        )
    bad = [m.code for m in plain + recorded if m.code not in (0, 1)]
    if bad:
        raise RuntimeError(f"{case.name}: pytest exited {bad}")
    plain_s = statistics.median(m.seconds for m in plain)
    plain_cpu = statistics.median(m.cpu for m in plain)
    # the first recorded run starts from an empty store; the later ones are CI's usual case
    later = recorded[1:] or recorded
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    return {
        "runs": runs,
        "plain_seconds": [m.seconds for m in plain],
        "recorded_seconds": [m.seconds for m in recorded],
        "plain_cpu": [m.cpu for m in plain],
        "recorded_cpu": [m.cpu for m in recorded],
        "ratio": round(statistics.median(m.seconds for m in later) / plain_s, 3),
        "ratio_first_run": round(recorded[0].seconds / plain_s, 3),
        "cpu_ratio": round(statistics.median(m.cpu for m in later) / plain_cpu, 3),
        "recorded_max_rss_mb": max(m.max_rss_mb for m in recorded),
        "store_bytes": sizes,
        "store_mb_after_first": round(sizes[0] / 1e6, 2),
        "store_mb_after_last": round(sizes[-1] / 1e6, 2),
        "growth_mb_per_run": [round(g / 1e6, 2) for g in growth],
    }


# -- the changes -------------------------------------------------------------------------------


def covered_functions(case: Case) -> list[tuple[str, str, int]]:
    """(path, qualified name, tests that ran it) of the package's functions in the newest run,
    fewest tests first."""
    db = sqlite3.connect(case.path / ".greenline" / "greenline.db")
    try:
        rows = db.execute(
            "SELECT b.path, b.name, COUNT(*) FROM coverage c"
            " JOIN coverage_set_blocks s ON s.set_id = c.set_id"
            " JOIN source_blocks b ON b.id = s.block_id"
            # the newest run's coverage: its own rows, or those of the run it shares
            " WHERE c.run_id = (SELECT COALESCE(coverage_of, id) FROM runs"
            " ORDER BY id DESC LIMIT 1)"
            " GROUP BY b.id"
        ).fetchall()
    finally:
        db.close()
    prefix = case.source.rstrip("/") + "/"
    functions = [
        (path, name, count)
        for path, name, count in rows
        if path.startswith(prefix)
        and not path.startswith(tuple(folder.rstrip("/") + "/" for folder in case.exclude))
        and name != "<module>"
        and "#" not in name
        and "<" not in name
    ]
    return sorted(functions, key=lambda row: (row[2], row[0], row[1]))


def find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    scope: list[ast.stmt] = tree.body
    found: ast.AST | None = None
    for part in qualname.split("."):
        found = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return None
        scope = found.body
    return found if isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef) else None


def one_function_change(case: Case) -> dict[str, Any]:
    """Add ``pass`` to the body of the covered function whose test count is the median: a
    change a review would call one function's (its fingerprint changes; formatting would not)."""
    functions = covered_functions(case)
    if not functions:
        raise RuntimeError(f"{case.name}: the store holds no covered function of {case.source}")
    middle = len(functions) // 2
    # the median first, then its neighbours outwards, until one is found in its file
    order = sorted(range(len(functions)), key=lambda i: (abs(i - middle), i))
    for i in order:
        path, qualname, tests = functions[i]
        file = case.path / path
        text = file.read_text(encoding="utf-8")
        node = find_function(ast.parse(text), qualname)
        if node is None or node.body[0].lineno == node.lineno:
            continue
        first = node.body[0]
        lines = text.splitlines(keepends=True)
        indent = " " * first.col_offset
        lines.insert(first.lineno - 1, f"{indent}pass\n")
        file.write_text("".join(lines), encoding="utf-8")
        return {"file": path, "function": qualname, "tests_that_ran_it": tests}
    raise RuntimeError(f"{case.name}: no covered function could be found in its source")


def release_change(case: Case) -> dict[str, Any]:
    """The previous release's package sources over this one's."""
    target = case.path / case.source
    shutil.rmtree(target)
    shutil.copytree(case.previous, target)
    status = git(case.path, "status", "--porcelain", "--", case.source).splitlines()
    python = [line for line in status if line.endswith(".py")]
    return {"files": len(status), "python_files": len(python)}


# -- select and planning -----------------------------------------------------------------------


def select(venv: Path, case: Case) -> dict[str, Any]:
    greenline = str(venv / "bin" / "greenline")
    as_json = measured([greenline, "select", "-f", "json"], case.path)
    if as_json.code != 0:
        raise RuntimeError(f"{case.name}: greenline select exited {as_json.code}")
    doc = json.loads(as_json.stdout)
    explain = measured([greenline, "select", "--explain"], case.path)
    return {
        "selected": doc["counts"]["selected"],
        "baseline_tests": doc["baseline_tests"],
        "full_suite": doc["full_suite"],
        "json": {
            "seconds": as_json.seconds,
            "max_rss_mb": as_json.max_rss_mb,
            "bytes": len(as_json.stdout),
        },
        "explain": {
            "seconds": explain.seconds,
            "max_rss_mb": explain.max_rss_mb,
            "bytes": len(explain.stdout),
            "lines": explain.stdout.count(b"\n"),
        },
    }


def planning(venv: Path, case: Case, repeat: int = 3) -> dict[str, Any]:
    """What ``--greenline-select=deselect`` adds to collecting the suite (interleaved, best of
    ``repeat`` each: the least disturbed run of each says the most about it)."""
    collect: list[Measured] = []
    planned: list[Measured] = []
    for _ in range(repeat):
        collect.append(
            measured(pytest_cmd(venv, case.path, case.tests, "--collect-only"), case.path)
        )
        planned.append(
            measured(
                pytest_cmd(
                    venv, case.path, case.tests, "--collect-only", "--greenline-select=deselect"
                ),
                case.path,
            )
        )
    line = next(
        (
            line.decode(errors="replace")
            for line in planned[0].stdout.splitlines()
            if line.startswith(b"greenline:") and b"tests can be affected" in line
        ),
        "",
    )
    best_collect = min(m.seconds for m in collect)
    best_planned = min(m.seconds for m in planned)
    return {
        "collect_seconds": best_collect,
        "planned_seconds": best_planned,
        "planning_seconds": round(best_planned - best_collect, 3),
        "planning_cpu": round(min(m.cpu for m in planned) - min(m.cpu for m in collect), 3),
        "ratio": round(best_planned / best_collect, 3),
        "collect_max_rss_mb": min(m.max_rss_mb for m in collect),
        "planned_max_rss_mb": min(m.max_rss_mb for m in planned),
        "plugin_says": line,
    }


# -- MCP ---------------------------------------------------------------------------------------


def mcp_calls(case: Case) -> list[tuple[str, dict[str, Any]]]:
    db = sqlite3.connect(case.path / ".greenline" / "greenline.db")
    try:
        (run_id,) = db.execute("SELECT MAX(id) FROM runs").fetchone()
        (test_id,) = db.execute("SELECT test_id FROM tests ORDER BY id LIMIT 1").fetchone()
    finally:
        db.close()
    return [
        ("list_runs", {"limit": 200}),
        ("get_run", {"run_id": run_id, "include": "all", "limit": 200}),
        ("get_run", {"run_id": run_id}),
        ("test_history", {"test_id": test_id}),
        ("select_tests", {}),
        ("select_tests", {"limit": 200}),
        ("select_tests", {"budget": "10%"}),
        ("list_flaky_tests", {"limit": 200}),
        ("explain_flaky_test", {"test_id": test_id}),
        ("why_is_main_red", {}),
        ("triage_run", {"limit": 200}),
        ("delivery_metrics", {}),
        ("pipeline_health", {}),
        ("queue_status", {}),
        ("review_change", {"limit": 200}),
    ]


async def _mcp_sizes(venv: Path, case: Case) -> list[dict[str, Any]]:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=str(venv / "bin" / "python"),
        args=["-m", "greenline.mcp", "--repo", str(case.path)],
        cwd=str(case.path),
        env=bench_env(),
    )
    out = []
    # the server's log goes nowhere: the answers are what is measured
    with open(os.devnull, "w") as quiet:
        async with (
            stdio_client(params, errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for name, arguments in mcp_calls(case):
                start = time.perf_counter()
                result = await session.call_tool(name, arguments)
                seconds = time.perf_counter() - start
                text = "".join(getattr(part, "text", "") for part in result.content)
                # an error is a message (e.g. "no red run"): bounded like any answer
                out.append(
                    {
                        "tool": name,
                        "arguments": arguments,
                        "bytes": len(text.encode()),
                        "seconds": round(seconds, 3),
                        "error": result.is_error,
                    }
                )
    return out


def mcp_sizes(venv: Path, case: Case) -> list[dict[str, Any]]:
    # the delivery tools read workflow runs: this store's own recorded runs, as CI's
    ingest = measured(
        [str(venv / "bin" / "greenline"), "insights", "ingest", "greenline"], case.path
    )
    if ingest.code != 0:
        raise RuntimeError(f"{case.name}: greenline insights ingest greenline exited {ingest.code}")
    return anyio.run(_mcp_sizes, venv, case)


# -- one project -------------------------------------------------------------------------------


def measure(
    venv: Path, case: Case, runs: int, kept: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every figure of one project; with ``kept`` (an earlier report of it), its recording
    figures are kept and one recorded run is the baseline of the rest."""
    restore(case)
    if kept is None:
        log(f"{case.name}: recording, {runs} runs")
        report: dict[str, Any] = {"project": case.name, "recording": recording(venv, case, runs)}
    else:
        log(f"{case.name}: one recorded run (the recording figures are kept)")
        corpus.clean_state(case.path)
        baseline = measured(
            pytest_cmd(venv, case.path, case.tests, "--greenline-record"), case.path
        )
        if baseline.code not in (0, 1):
            raise RuntimeError(f"{case.name}: pytest exited {baseline.code}")
        report = {"project": case.name, "recording": kept["recording"], "recording_kept": True}
    try:
        log(f"{case.name}: a one-function change")
        change = one_function_change(case)
        report["one_function"] = {
            "change": change,
            "select": select(venv, case),
            "planning": planning(venv, case),
        }
        restore(case)
        log(f"{case.name}: the release diff")
        change = release_change(case)
        report["release"] = {"change": change, "select": select(venv, case)}
        log(f"{case.name}: MCP answers")
        report["mcp"] = mcp_sizes(venv, case)
    finally:
        restore(case)
    return report


def smoke_case() -> Case:
    """A generated project: 2,000 parametrized tests over a package of 20 modules, and a
    'previous release' where a quarter of the modules differ."""
    root = WORK / "src" / "smoke"
    if not (root / ".git").exists():
        shutil.rmtree(root, ignore_errors=True)
        (root / "pkg").mkdir(parents=True)
        (root / "tests").mkdir()
        (root / "pkg" / "__init__.py").write_text("")
        previous = WORK / "src" / "smoke-previous" / "pkg"
        shutil.rmtree(previous.parent, ignore_errors=True)
        previous.mkdir(parents=True)
        (previous / "__init__.py").write_text("")
        for m in range(20):
            body = "".join(
                f"\n\ndef f{k}(x):\n    if x > {k}:\n        return x * {k}\n    return x + {k}\n"
                for k in range(5)
            )
            (root / "pkg" / f"mod{m}.py").write_text(f'"""Module {m}."""{body}')
            old = body.replace("return x + 0", "return x - 0") if m % 4 == 0 else body
            (previous / f"mod{m}.py").write_text(f'"""Module {m}."""{old}')
            (root / "tests" / f"test_mod{m}.py").write_text(
                f"import pytest\n\nfrom pkg import mod{m}\n\n\n"
                f'@pytest.mark.parametrize("i", range(100))\n'
                f"def test_f(i):\n    assert getattr(mod{m}, f'f{{i % 5}}')(i) is not None\n"
            )
        (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
        corpus.anchor_pytest(root)
        corpus.init_git(root)
    return Case(
        "smoke (generated)", root, ("tests",), "pkg", WORK / "src" / "smoke-previous" / "pkg"
    )


def project_case(project: Project) -> Case:
    path = corpus.fetch(WORK, project)
    previous = corpus.fetch(WORK, Project(project.name, PREVIOUS[project.name]))
    return Case(
        project.name,
        path,
        project.tests,
        project.source,
        previous / project.source,
        project.exclude,
    )


# -- the report --------------------------------------------------------------------------------


def verdicts(report: dict[str, Any], python: str) -> dict[str, bool]:
    """Which targets this project's figures meet (the targets are for the 64k-test project)."""
    rec = report["recording"]
    one = report["one_function"]
    rel = report["release"]
    memory = max(
        one["select"]["json"]["max_rss_mb"],
        one["select"]["explain"]["max_rss_mb"],
        rel["select"]["json"]["max_rss_mb"],
        rel["select"]["explain"]["max_rss_mb"],
        one["planning"]["planned_max_rss_mb"] - one["planning"]["collect_max_rss_mb"],
    )
    out = {
        "select_one_function": max(
            one["select"]["json"]["seconds"], one["select"]["explain"]["seconds"]
        )
        <= TARGETS["select_one_function_s"],
        "select_release": max(rel["select"]["json"]["seconds"], rel["select"]["explain"]["seconds"])
        <= TARGETS["select_release_s"],
        "plugin_planning": one["planning"]["planning_seconds"] <= TARGETS["plugin_planning_s"],
        "memory": memory <= TARGETS["memory_mb"],
        "mcp": all(a["bytes"] <= TARGETS["mcp_bytes"] for a in report["mcp"]),
    }
    if rec["growth_mb_per_run"]:
        out["second_run_growth"] = rec["growth_mb_per_run"][0] <= TARGETS["second_run_growth_mb"]
    if tuple(int(p) for p in python.split(".")) >= (3, 12):
        out["recording"] = rec["ratio"] <= TARGETS["record_ratio_312"]
    return out


def timed(select: dict[str, Any]) -> str:
    return (
        f"{select['json']['seconds']:.2f} / {select['explain']['seconds']:.2f} s"
        f" ({select['selected']:,} selected)"
    )


def mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def markdown(reports: list[dict[str, Any]]) -> str:
    lines = [
        "| Python | project | recording ÷ plain (first run) | store after 1 / last run "
        "| growth per run | select, one function: json / explain | select, release diff: "
        "json / explain | peak memory | planning in the plugin | largest MCP answer |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for row in report["projects"]:
            ok = row["meets"]
            rec = row["recording"]
            one = row["one_function"]
            rel = row["release"]
            memory = max(
                s[k]["max_rss_mb"]
                for s in (one["select"], rel["select"])
                for k in ("json", "explain")
            )
            growth = ", ".join(f"{g:.1f}" for g in rec["growth_mb_per_run"]) or "–"
            biggest = max(row["mcp"], key=lambda a: a["bytes"])
            lines.append(
                f"| {report['python']} ({report['tracer']}) | {row['project']} "
                f"({one['select']['baseline_tests']:,} tests) "
                f"| {rec['ratio']:.2f}× ({rec['ratio_first_run']:.2f}×){mark(ok.get('recording'))} "
                f"| {rec['store_mb_after_first']:.1f} / {rec['store_mb_after_last']:.1f} MB "
                f"| {growth} MB{mark(ok.get('second_run_growth'))} "
                f"| {timed(one['select'])}{mark(ok['select_one_function'])} "
                f"| {timed(rel['select'])}{mark(ok['select_release'])} "
                f"| {memory:.0f} MB{mark(ok['memory'])} "
                f"| +{one['planning']['planning_seconds']:.2f} s on "
                f"{one['planning']['collect_seconds']:.1f} s{mark(ok['plugin_planning'])} "
                f"| {biggest['bytes'] / 1024:.1f} KB ({biggest['tool']}){mark(ok['mcp'])} |"
            )
    return "\n".join(lines)


def with_insights(venv: Path) -> None:
    """The MCP server's delivery tools read workflow runs through DuckDB (greenline's
    ``insights`` extra): installed into the benchmark's environment when it lacks it."""
    python = str(venv / "bin" / "python")
    if subprocess.run([python, "-c", "import duckdb"], capture_output=True).returncode:
        log(f"installing greenline[insights] into {venv}")
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-e",
                f"{corpus.REPO}[insights]",
            ],
            check=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS))
    parser.add_argument("--python", action="append", help="interpreter(s) to measure")
    parser.add_argument("--runs", type=int, default=5, help="recorded runs (and plain ones)")
    parser.add_argument("--smoke", action="store_true", help="a generated project, two runs")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--keep-recording",
        action="store_true",
        help="keep the recording figures of the results there; measure the rest again",
    )
    args = parser.parse_args()

    pythons = args.python or ([sys.executable] if args.smoke else corpus.find_pythons())
    projects = [PROJECTS[n] for n in (args.project or ([] if args.smoke else sorted(PROJECTS)))]
    runs = 2 if args.smoke else args.runs
    out = WORK / "smoke-results" if args.smoke else args.out
    out.mkdir(parents=True, exist_ok=True)
    cases = [smoke_case()] if args.smoke else [project_case(p) for p in projects]
    reports = []
    for python in pythons:
        # the smoke run uses this environment (greenline and pytest are in it)
        venv = Path(sys.prefix) if args.smoke else corpus.make_venv(WORK, python, projects)
        with_insights(venv)
        tag = corpus.python_tag(python)
        report: dict[str, Any] = {
            "benchmark": "large-suites",
            "python": tag,
            "tracer": tracer_of(venv),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "targets": TARGETS,
            "projects": [],
        }
        name = "large-smoke" if args.smoke else "large"
        earlier: dict[str, Any] = {}
        if args.keep_recording:
            with (out / f"{name}-{tag}.json").open() as file:
                earlier = {row["project"]: row for row in json.load(file)["projects"]}
        for case in cases:
            log(f"{case.name} on Python {tag}")
            row = measure(venv, case, runs, earlier.get(case.name))
            row["meets"] = verdicts(row, tag)
            report["projects"].append(row)
            # written after each project: a later one that fails leaves these figures
            (out / f"{name}-{tag}.json").write_text(json.dumps(report, indent=2) + "\n")
        reports.append(report)
    print(markdown(reports))
    # what must hold whatever the machine: a change to code the tests ran selects some of
    # them, and no MCP answer passes its bound
    broken = [
        f"{report['python']} {row['project']}: {what}"
        for report in reports
        for row in report["projects"]
        for what, bad in (
            (
                "the one-function change selected nothing",
                not row["one_function"]["select"]["selected"],
            ),
            ("the release diff selected nothing", not row["release"]["select"]["selected"]),
            ("an MCP answer is over its bound", not row["meets"]["mcp"]),
        )
        if bad
    ]
    for line in broken:
        log(line)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
