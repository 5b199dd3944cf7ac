"""A suite of 3,000 parametrized tests, recorded once: every answer stays bounded (each MCP tool
under 16 KB with the right totals, ``select --explain``, ``tests``, ``run show``), and planning
in the plugin costs a small share of what collecting the suite does."""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from greenline.mcp.bounds import BUDGET
from greenline.model import CommitInfo, Outcome, TestResult
from tests.conftest import NO_PLUGIN_AUTOLOAD, git, init_repo
from tests.integration.test_mcp_server import call_server

PER_FILE = 1500
TESTS = 2 * PER_FILE
#: test_square fails for every i divisible by this in the recorded run
FAILING_EVERY = 50
FAILING = PER_FILE // FAILING_EVERY
PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "greenline")

CALC = """\
def double(x):
    return x * 2


def square(x):
    return x * x
"""
TEST_DOUBLE = f"""\
import pytest

from pkg import calc


@pytest.mark.parametrize("i", range({PER_FILE}))
def test_double(i):
    assert calc.double(i) == i + i
"""
TEST_SQUARE = f"""\
import pytest

from pkg import calc


@pytest.mark.parametrize("i", range({PER_FILE}))
def test_square(i):
    assert calc.square(i) == i * i
    assert i % {FAILING_EVERY}, "a long failure message " * 40
"""


def environment() -> dict[str, str]:
    """This process's environment without greenline's settings (the project's store is its
    own) and with no plugin discovery (greenline is named with -p)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")}
    return {**env, **NO_PLUGIN_AUTOLOAD, "COLUMNS": "200"}


def build(root: Path) -> None:
    """The project, committed, with an earlier run (stored directly: test_square's tests
    failing in another pattern, so history shows flipping tests) and a recorded run of all
    3,000 tests with coverage (the baseline)."""
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "tests" / "test_double.py").write_text(TEST_DOUBLE)
    (root / "tests" / "test_square.py").write_text(TEST_SQUARE)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / ".gitignore").write_text("__pycache__/\n.greenline/\n")
    init_repo(root)
    # the repository's name comes from its origin (no traffic: nothing fetches it), so a copy
    # of the project in another folder is the same repository to greenline
    git(root, "remote", "add", "origin", "https://example.invalid/acme/large.git")
    with Greenline.open(root) as gl:
        run_id = gl.runs.start_run("pytest", commit=CommitInfo(git(root, "rev-parse", "HEAD")))
        flipped = [
            TestResult(
                f"tests/test_square.py::test_square[{i}]",
                Outcome.FAILED if i % 7 == 0 else Outcome.PASSED,
                0.001,
                message="flipped " * 30 if i % 7 == 0 else None,
                path="tests/test_square.py",
            )
            for i in range(PER_FILE)
        ]
        gl.runs.add_results(run_id, flipped)
        gl.runs.finish_run(run_id, 1, complete=True)
    proc = subprocess.run(
        [*PYTEST, "--greenline-record"],
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{FAILING} failed, {TESTS - FAILING} passed" in proc.stdout
    with Greenline.open(root) as gl:
        gl.insights.ingest_own_runs()  # the delivery tools read the store's runs as CI's


@pytest.fixture(scope="session")
def recorded_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The recorded project, built once per test session (xdist's workers share it)."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # this session's folder, above each worker's own
    root = shared / "large-suite"
    with (shared / "large-suite.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built").exists():
            if root.exists():
                shutil.rmtree(root)  # a build another worker did not finish
            build(root / "project")
            (root / "built").write_text("")
    return root / "project"


@pytest.fixture
def large(recorded_template: Path, tmp_path: Path) -> Path:
    """A copy of the recorded project of its own for the test (its edits are its own)."""
    copy = tmp_path / "project"
    shutil.copytree(recorded_template, copy, symlinks=True)
    return copy


def edit(root: Path, *functions: str) -> None:
    """Change the named functions of pkg/calc.py (how they compute, not what)."""
    rewrites = {
        "double": ("return x * 2", "return 2 * x"),
        "square": ("return x * x", "return x**2"),
    }
    calc = root / "pkg" / "calc.py"
    text = calc.read_text()
    for name in functions:
        text = text.replace(*rewrites[name])
    calc.write_text(text)


def greenline(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenline", *args],
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def json_of(root: Path, *args: str) -> Any:
    proc = greenline(root, *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1, "JSON to a pipe is one compact line"
    return json.loads(proc.stdout)


# -- MCP ---------------------------------------------------------------------------------------


def answered(answers: dict[str, Any], name: str, **arguments: Any) -> dict[str, Any]:
    """A tool's answer, checked against the bound: its text and its structured content are
    the same JSON, at most BUDGET bytes."""
    result = answers[f"{name}{json.dumps(arguments, sort_keys=True)}"]
    assert not result.is_error, result.content
    text = result.content[0].text
    assert len(text.encode()) <= BUDGET, (name, len(text.encode()))
    doc: dict[str, Any] = json.loads(text)
    assert doc == result.structured_content
    return doc


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_runs", {"limit": 200}),
    ("get_run", {"run_id": 2, "include": "all", "limit": 200}),
    ("get_run", {"run_id": 2, "include": "all", "limit": 200, "offset": 2900}),
    ("get_run", {"run_id": 2}),
    ("get_run", {"run_id": 2, "offset": 5}),
    ("test_history", {"test_id": "tests/test_square.py::test_square[0]"}),
    ("select_tests", {"limit": 200}),
    ("select_tests", {"limit": 200, "offset": 200}),
    ("select_tests", {"budget": "1%"}),
    ("list_flaky_tests", {"limit": 200}),
    ("explain_flaky_test", {"test_id": "tests/test_square.py::test_square[0]"}),
    ("why_is_main_red", {}),
    ("triage_run", {"limit": 200}),
    ("delivery_metrics", {}),
    ("pipeline_health", {}),
    ("queue_status", {}),
    ("review_change", {"limit": 200}),
]


@pytest.fixture
def mcp_answers(large: Path) -> dict[str, Any]:
    edit(large, "double", "square")  # a change every test ran
    return call_server(large, CALLS)


def test_every_mcp_tool_answers_within_its_bound(mcp_answers: dict[str, Any]) -> None:
    tools = {tool.name for tool in mcp_answers["tools"]}
    asked = {name for name, _ in CALLS}
    # the rest run the suite (fixes, culprits, reverts) or queue a branch: their documents are
    # fitted by the same code, tested on large documents in tests/unit/test_mcp_bounds.py
    assert tools - asked == {
        "propose_flaky_fix",
        "verify_flaky_fix",
        "find_culprit",
        "propose_revert",
    }
    for name, arguments in CALLS:
        answered(mcp_answers, name, **arguments)


def test_list_answers_carry_their_totals_and_page_on(mcp_answers: dict[str, Any]) -> None:
    first = answered(mcp_answers, "get_run", run_id=2, include="all", limit=200)
    assert first["total"] == TESTS and first["truncated"] is True and first["offset"] == 0
    assert 0 < first["returned"] == len(first["results"]) <= 200
    assert first["next_offset"] == first["returned"]
    last = answered(mcp_answers, "get_run", run_id=2, include="all", limit=200, offset=2900)
    assert last["total"] == TESTS and last["offset"] == 2900
    assert last["returned"] + 2900 <= TESTS
    failures = answered(mcp_answers, "get_run", run_id=2)
    assert failures["total"] == FAILING and failures["run"]["counts"]["failed"] == FAILING
    # thirty long messages do not fit: the page ends where the bound does, and says so
    assert 0 < failures["returned"] < FAILING and failures["next_offset"] == failures["returned"]
    rest = answered(mcp_answers, "get_run", run_id=2, offset=5)
    assert rest["offset"] == 5 and rest["results"][0] == failures["results"][5]

    runs = answered(mcp_answers, "list_runs", limit=200)
    assert (runs["total"], runs["returned"], runs["next_offset"]) == (2, 2, None)
    history = answered(mcp_answers, "test_history", test_id="tests/test_square.py::test_square[0]")
    assert history["total"] == 2 and [r["run_id"] for r in history["results"]] == [2, 1]


def test_select_tests_counts_every_test_and_pages(mcp_answers: dict[str, Any]) -> None:
    page = answered(mcp_answers, "select_tests", limit=200)
    assert page["total"] == TESTS and page["counts"]["selected"] == TESTS
    assert page["counts"]["by_reason"]["changed-block"] == TESTS
    assert page["counts"]["by_reason"]["failed-last-time"] == FAILING
    assert page["baseline_tests"] == TESTS and page["truncated"] is True
    listed = page["returned"]
    assert 0 < listed == len(page["selected"]) and page["next_offset"] == listed
    following = answered(mcp_answers, "select_tests", limit=200, offset=200)
    assert following["offset"] == 200
    ids = {t["test_id"] for t in page["selected"]} | {t["test_id"] for t in following["selected"]}
    assert len(ids) == listed + following["returned"], "pages do not overlap"

    budget = answered(mcp_answers, "select_tests", budget="1%")
    counts = budget["counts"]
    assert counts["selected"] + counts["over_budget"] == TESTS
    assert counts["over_budget"] > 2500
    assert 0 < len(budget["over_budget"]) < counts["over_budget"], "over_budget is bounded"
    left_out = budget["omitted"]["over_budget"]
    assert len(budget["over_budget"]) + left_out == counts["over_budget"]
    assert budget["truncated"] is True


def test_flaky_and_triage_answers_count_what_they_cut(mcp_answers: dict[str, Any]) -> None:
    flaky = answered(mcp_answers, "list_flaky_tests", limit=200)
    assert flaky["total"] == sum(flaky["counts"]["verdict"].values())
    assert flaky["total"] > 200 and flaky["next_offset"] == flaky["returned"]
    triage = answered(mcp_answers, "triage_run", limit=200)
    assert triage["total"] == FAILING == sum(triage["counts"].values())
    red = answered(mcp_answers, "why_is_main_red")
    assert red["green"] is False
    assert sum(kind["count"] for kind in red["verdicts"].values()) == FAILING


# -- the CLI -----------------------------------------------------------------------------------


def test_select_explain_groups_the_reasons_and_caps_the_tests(large: Path) -> None:
    edit(large, "double")
    explained = greenline(large, "select", "--explain")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    selected = PER_FILE + FAILING  # the tests that failed in the baseline run first
    assert f"{selected} of {TESTS} tests selected" in out
    groups = [line.split("│")[1:4] for line in out.splitlines() if "tests │" not in line]
    rows = [[cell.strip() for cell in g] for g in groups if len(g) == 3]
    assert ["changed-block", str(PER_FILE), f"pkg/calc.py::double ({PER_FILE})"] in rows
    assert ["failed-last-time", str(FAILING), f"failed ({FAILING})"] in rows
    assert out.count("│ tests/test_") == 50
    assert f"{selected - 50} more selected tests not listed (50 of {selected} shown)" in out
    assert len(out.splitlines()) < 100
    every = greenline(large, "select", "--explain", "--all")
    assert every.stdout.count("│ tests/test_") == selected
    assert "more selected tests not listed" not in every.stdout
    doc = json_of(large, "select", "-f", "json")
    assert len(doc["selected"]) == selected, "JSON stays complete"


def test_tests_and_run_show_take_a_limit(large: Path) -> None:
    listed = greenline(large, "tests")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("tests/test_") == 50
    assert f"50 of {TESTS} shown; {TESTS - 50} more: --limit 0 lists every one" in listed.stdout
    doc = json_of(large, "tests", "--limit", "10", "-f", "json")
    assert (doc["total"], doc["returned"], doc["truncated"]) == (TESTS, 10, True)
    assert len(doc["tests"]) == 10
    every = json_of(large, "tests", "--limit", "0", "-f", "json")
    assert (every["total"], every["returned"], every["truncated"]) == (TESTS, TESTS, False)

    shown = greenline(large, "run", "show", "2", "--all", "--limit", "5")
    assert shown.stdout.count("tests/test_") == 5
    assert f"5 of {TESTS} shown; {TESTS - 5} more" in shown.stdout
    failures = greenline(large, "run", "show", "2")
    assert f"{FAILING} failed attempts" in failures.stdout and "more:" not in failures.stdout
    run = json_of(large, "run", "show", "2", "-f", "json")
    assert (run["total"], run["returned"], run["truncated"]) == (TESTS, 50, True)
    pretty = greenline(large, "--pretty", "run", "show", "2", "-f", "json", "-n", "1")
    assert pretty.stdout.startswith('{\n  "schema"'), "asked for, a pipe gets indented JSON"


# -- planning cost -----------------------------------------------------------------------------


def cpu_seconds(root: Path, *args: str) -> float:
    """The CPU time (user and system) of one pytest run in ``root``: on a shared machine
    the wall clock says more about the neighbours than about the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [*PYTEST, *args], cwd=root, env=environment(), capture_output=True, text=True, timeout=300
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(runs: int, root: Path, *variants: tuple[str, ...]) -> list[float]:
    """The least CPU time of each variant's pytest run over ``runs`` rounds, the variants
    interleaved: a burst of load from the neighbours hits every variant alike."""
    best = [float("inf")] * len(variants)
    for _ in range(runs):
        for i, args in enumerate(variants):
            best[i] = min(best[i], cpu_seconds(root, *args))
    return best


@pytest.mark.parametrize(
    ("functions", "selected"),
    [(("double",), PER_FILE + FAILING), (("double", "square"), TESTS)],
    ids=["one-function", "every-test"],
)
def test_planning_costs_a_share_of_collection(
    large: Path, functions: tuple[str, ...], selected: int
) -> None:
    edit(large, *functions)
    select = ("--collect-only", "--greenline-select=deselect")
    first = subprocess.run(
        [*PYTEST, *select], cwd=large, env=environment(), capture_output=True, text=True
    )
    assert f"greenline: {selected} of {TESTS} tests can be affected" in first.stdout, first.stdout
    collection, planned = best_of(5, large, ("--collect-only",), select)
    # planning opens the store, reads the baseline's coverage of the changed file and ranks
    # every selected test: a fraction of collecting and parametrizing the 3,000 tests
    assert planned / collection < 2.5, (planned, collection)
