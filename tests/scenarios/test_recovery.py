"""Recovery end to end on a real git repository with real pytest runs: three commits land on
main, one breaks a test while a flaky test fails too; triage tells them apart, the culprit
search finds and confirms the breaking commit, and the revert is verified on a branch of its
own while main stays where it was. Bad input gets one line, a hint and a nonzero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import GIT_ENV, git, init_repo

CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
#: fails every other run in one checkout (a file toggles next to it): flaky by construction
TOGGLE = (
    "from pathlib import Path\n\n\ndef test_every_other_run():\n"
    "    toggle = Path(__file__).with_name('toggle.txt')\n"
    "    odd = not toggle.exists()\n"
    "    toggle.write_text('x') if odd else toggle.unlink()\n"
    "    assert not odd\n"
)
ENV = {**os.environ, **GIT_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def commit(repo: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def record(repo: Path, **env: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "greenline", "--greenline-record"],
        cwd=repo,
        env={**ENV, **env},
        capture_output=True,
        check=False,
        timeout=300,
    )


def greenline(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenline", *args],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture
def red_main(tmp_path: Path) -> dict[str, str]:
    """main: c0 (green, the toggle test seen flaky there), docs, the breaking commit, docs."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TESTS)
    (repo / "test_toggle.py").write_text(TOGGLE)
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (repo / ".gitignore").write_text(".greenline/\n__pycache__/\n.pytest_cache/\ntoggle.txt\n")
    init_repo(repo)
    shas = {"repo": str(repo), "c0": git(repo, "rev-parse", "HEAD")}
    record(repo)  # the toggle test fails: the first of its runs
    record(repo)  # ... and passes: flaky on one commit; this run is green
    shas["c1"] = commit(repo, "docs", **{"README.md": "calc\n"})
    shas["c2"] = commit(repo, "faster mul", **{"calc.py": CALC.replace("a * b", "a * b + 1")})
    shas["c3"] = commit(repo, "more docs", **{"README.md": "calc, more\n"})
    record(repo)  # red: test_mul (the change) and the toggle test (flaky)
    return shas


def test_triage_tells_the_regression_from_the_flaky_failure(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    result = greenline(repo, "triage", "-f", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "greenline.triage/1" and doc["commit"] == red_main["c3"]
    verdicts = {v["test_id"]: v for v in doc["verdicts"]}
    assert verdicts["test_calc.py::test_mul"]["verdict"] == "regression"
    assert verdicts["test_calc.py::test_mul"]["touched"] == ["calc.py"]
    assert verdicts["test_toggle.py::test_every_other_run"]["verdict"] == "flaky"
    text = greenline(repo, "triage").stdout
    assert "regression (1)" in text and "flaky (1)" in text


def test_the_whole_path_finds_confirms_and_reverts_the_culprit(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    result = greenline(repo, "triage", "--fix", "-f", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    culprit = doc["culprit"]
    assert culprit["status"] == "found" and culprit["confirmed"]
    assert culprit["culprit"]["sha"] == red_main["c2"]
    assert culprit["culprit"]["subject"] == "faster mul"
    assert culprit["tests"] == ["test_calc.py::test_mul"], "the flaky test is not searched for"
    revert = doc["revert"]
    branch = f"greenline/revert-{red_main['c2'][:10]}"
    assert revert["branch"] == branch and revert["verified_runs"] == 3
    assert git(repo, "rev-parse", "main") == red_main["c3"], "main did not move"
    assert git(repo, "rev-parse", f"{branch}^") == red_main["c3"]
    assert git(repo, "show", f"{branch}:calc.py").endswith("return a * b")
    assert git(repo, "worktree", "list").count("\n") == 0, "no probe worktree is left"
    again = greenline(repo, "revert", red_main["c2"])
    assert again.returncode == 4 and "exists already" in again.stderr


def test_a_culprit_fixed_later_is_said_so_and_not_reverted(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    commit(repo, "fix mul", **{"calc.py": CALC})
    result = greenline(
        repo,
        "culprit",
        "--good",
        red_main["c0"],
        "--bad",
        red_main["c3"],
        "-f",
        "json",
        "test_calc.py::test_mul",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["culprit"]["sha"] == red_main["c2"] and doc["fixed_later"] is True
    refused = greenline(repo, "revert", red_main["c2"])
    assert refused.returncode == 4 and "no longer breaks anything at HEAD" in refused.stderr


def test_only_the_flaky_test_failing_has_no_culprit(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    result = greenline(
        repo,
        "culprit",
        "--good",
        red_main["c0"],
        "--bad",
        red_main["c1"],
        "-f",
        "json",
        "test_calc.py::test_add",
    )
    # test_add passes everywhere: the red run at c1 (if any) was a flake, nothing broke it
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "no-culprit"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("culprit", "--good", "nope", "test_calc.py::test_mul"), "unknown revision 'nope'"),
        (("culprit", "--good", "HEAD", "--bad", "HEAD~2"), "is not an ancestor of"),
        (("revert", "HEAD~2"), "is not a confirmed culprit"),
        (("triage", "2"), "run 2 has no failing tests"),
        (("culprit", "--good", "HEAD~3", "--confidence", "2"), "--confidence 2.0"),
    ],
)
def test_bad_input_gets_one_line_and_a_hint(
    red_main: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    repo = Path(red_main["repo"])
    before = git(repo, "for-each-ref")
    result = greenline(repo, *args)
    assert result.returncode in (4, 5), result.stderr
    assert message in result.stderr and "Hint:" in result.stderr
    assert git(repo, "for-each-ref") == before, "no ref changed"


def test_a_dirty_work_tree_is_refused_by_revert(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    (repo / "calc.py").write_text(CALC + "# wip\n")
    result = greenline(repo, "revert", red_main["c2"], "--force")
    assert result.returncode == 4 and "uncommitted changes" in result.stderr


async def _agent_asks(repo: Path, good: str) -> dict[str, Any]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "greenline.mcp", "--repo", str(repo)],
        cwd=str(repo),
        env=ENV,
    )
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        why = await session.call_tool("why_is_main_red", {})
        found = await session.call_tool(
            "find_culprit", {"good": good}, progress_callback=on_progress
        )
        revert = await session.call_tool(
            "propose_revert", {"commit": found.structured_content["culprit"]["sha"]}
        )
        triage = await session.call_tool("triage_run", {"run_id": 999})
    return {"why": why, "found": found, "revert": revert, "triage": triage, "progress": progress}


def test_an_agent_asks_why_main_is_red_and_gets_a_verified_revert(
    red_main: dict[str, str],
) -> None:
    repo = Path(red_main["repo"])
    answers = anyio.run(_agent_asks, repo, red_main["c0"])
    why = answers["why"].structured_content
    assert why["schema"] == "greenline.why-red/1" and not why["green"]
    assert why["red_streak"] == {
        "runs": 1,
        "since": why["red_streak"]["since"],
        "last_green_run": 2,
    }
    assert set(why["verdicts"]) == {"regression", "flaky"}
    assert why["suggested_action"].startswith("find the culprit")
    assert len(json.dumps(why)) < 16_000
    found = answers["found"].structured_content
    assert found["status"] == "found" and found["culprit"]["sha"] == red_main["c2"]
    assert answers["progress"], "the long search reports progress"
    revert = answers["revert"].structured_content
    assert revert["branch"] == f"greenline/revert-{red_main['c2'][:10]}"
    assert git(repo, "rev-parse", "main") == red_main["c3"], "nothing lands"
    assert answers["triage"].is_error and "no run with id 999" in str(answers["triage"].content)


def test_insights_count_the_culprits_found_and_the_time_to_green(
    red_main: dict[str, str],
) -> None:
    from greenline.api import Greenline
    from greenline.insights.summary import health

    repo = Path(red_main["repo"])
    assert greenline(repo, "triage", "--fix").returncode == 0
    assert greenline(repo, "insights", "ingest", "greenline").returncode == 0
    with Greenline.open(repo) as gl:
        doc = gl.insights.metrics(days=3650)
    culprits = doc["culprits"]
    assert (culprits["searches"], culprits["found"], culprits["no_culprit"]) == (1, 1, 0)
    assert culprits["median_s_to_culprit"] >= 0
    assert any("searched 1 red run for a culprit: 1 found" in f for f in doc["findings"])
    assert health(doc)["culprits"] == culprits
    # time to green from greenline's own runs: the first red run, then the green one after it
    assert doc["overall"]["default"]["recoveries"] == 1


def test_a_breakage_merged_from_a_branch_names_the_merge_commit(
    red_main: dict[str, str],
) -> None:
    repo = Path(red_main["repo"])
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "tidy", **{"NOTES.md": "tidy\n"})
    commit(repo, "break add", **{"calc.py": CALC.replace("a + b", "a - b")})
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    merge = git(repo, "rev-parse", "HEAD")
    result = greenline(
        repo, "culprit", "--good", red_main["c3"], "-f", "json", "test_calc.py::test_add"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["commits"] == 1, "first-parent history: the branch's own commits are not probed"
    assert doc["culprit"]["sha"] == merge and doc["confirmed"]


def test_a_store_with_no_green_run_has_nothing_to_search_from(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC.replace("a * b", "a * b + 1"))
    (repo / "test_calc.py").write_text(TESTS)
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (repo / ".gitignore").write_text(".greenline/\n__pycache__/\n.pytest_cache/\n")
    init_repo(repo)
    record(repo)  # red from its first run
    before = git(repo, "for-each-ref")
    result = greenline(repo, "triage", "--fix")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "no green run before run 1 to search from" in result.stderr
    assert "Hint:" in result.stderr and git(repo, "for-each-ref") == before


def test_a_regression_in_a_known_flaky_test_is_a_regression(tmp_path: Path) -> None:
    """Its own new failure is not one of the ways it is known to flake."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("def sub(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text(
        "import os\n\nfrom calc import sub\n\n\ndef test_sub():\n"
        "    if os.environ.get('FLAKE'):\n        raise AssertionError('flaked')\n"
        "    assert sub(5, 3) == 2\n"
    )
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (repo / ".gitignore").write_text(".greenline/\n__pycache__/\n.pytest_cache/\n")
    init_repo(repo)
    record(repo)
    record(repo, FLAKE="1")  # the test flakes on the same commit
    commit(repo, "break sub", **{"calc.py": "def sub(a, b):\n    return a + b\n"})
    record(repo)
    doc = json.loads(greenline(repo, "triage", "-f", "json").stdout)
    assert [(v["test_id"], v["verdict"]) for v in doc["verdicts"]] == [
        ("test_calc.py::test_sub", "regression")
    ]


def test_probes_run_a_few_of_many_failing_tests(red_main: dict[str, str]) -> None:
    repo = Path(red_main["repo"])
    many = "".join(
        f"\n\ndef test_mul_{n}():\n    assert mul({n}, 2) == {2 * n}\n" for n in range(6)
    )
    commit(repo, "more mul tests", **{"test_calc.py": TESTS + many})
    ids = [f"test_calc.py::test_mul_{n}" for n in range(6)]
    # the new tests exist only from this commit on: the search runs from before c2
    result = greenline(
        repo, "culprit", "--good", red_main["c0"], "-f", "json", "test_calc.py::test_mul", *ids
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["tests"]) == 7 and len(doc["probed_tests"]) == 3
    assert doc["culprit"]["sha"] == red_main["c2"]
