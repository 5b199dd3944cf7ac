"""Sharding on real pytest runs of a real git project with a recorded history: the shards of a
run together run every (selected) test exactly once, under xdist too, a retried shard reruns
exactly its tests, and ``greenline split`` prints the same plan."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import git, init_repo

#: every pytest run names its plugins (-p greenline, -p xdist): discovering the installed ones
#: would cost each of this module's many runs a second or more
pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

#: seconds each test sleeps: uneven on purpose (a split by count would be lopsided)
DURATIONS = {
    "test_slow.py": [0.4, 0.05, 0.05],
    "test_mid.py": [0.2, 0.2, 0.02],
    "test_fast.py": [0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
}
TEST_FILE = """
import json, pathlib, time
import app

SLEEP = json.loads(pathlib.Path(__file__).with_name("sleep.json").read_text())

{tests}
"""


def _tests(name: str, count: int) -> str:
    body = (
        "def test_{i}():\n    time.sleep(SLEEP[{key!r}][{i}])\n    assert app.add({i}, 1) == {j}\n"
    )
    return "\n".join(body.format(i=i, j=i + 1, key=name) for i in range(count))


def all_ids() -> set[str]:
    return {f"{name}::test_{i}" for name, ds in DURATIONS.items() for i in range(len(ds))}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        app="def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
    )
    for name, durations in DURATIONS.items():
        (pytester.path / name).write_text(TEST_FILE.format(tests=_tests(name, len(durations))))
    (pytester.path / "sleep.json").write_text(json.dumps(DURATIONS))
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("__pycache__/\n*.jsonl\n")
    init_repo(pytester.path)
    return pytester


@pytest.fixture
def recorded(suite: pytest.Pytester) -> pytest.Pytester:
    suite.runpytest_subprocess(*PLAIN, "--greenline-record").assert_outcomes(passed=12)
    return suite


PLAIN = ("-p", "greenline", "-p", "no:cacheprovider")


def run_shard(project: pytest.Pytester, spec: str | None, *args: str) -> tuple[int, list[str]]:
    """Run one shard; (pytest's exit code, the ids it ran, from its results file)."""
    out = project.path / f"results-{(spec or 'ci').replace('/', '-')}-{len(args)}.jsonl"
    shard = ["--greenline-shard", spec] if spec else ["--greenline-shard"]
    result = project.runpytest_subprocess(*PLAIN, *shard, f"--greenline-results={out}", *args)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[-1] == {"done": True, "exit_status": result.ret}
    return result.ret, [r["test_id"] for r in rows if "test_id" in r]


def run_all_shards(project: pytest.Pytester, total: int, *args: str) -> list[list[str]]:
    ran = []
    for index in range(total):
        code, ids = run_shard(project, f"{index}/{total}", *args)
        assert code == 0, ids
        ran.append(ids)
    return ran


def exactly_once(shards: list[list[str]]) -> Counter[str]:
    counts = Counter(t for ids in shards for t in ids)
    assert all(n == 1 for n in counts.values()), counts
    return counts


def test_the_shards_together_run_every_test_exactly_once(recorded: pytest.Pytester) -> None:
    shards = run_all_shards(recorded, 3)
    assert set(exactly_once(shards)) == all_ids()
    shards = run_all_shards(recorded, 2)
    assert set(exactly_once(shards)) == all_ids()
    # the 0.4 s test goes alone with the small ones; the two 0.2 s tests together
    slow = next(ids for ids in shards if "test_slow.py::test_0" in ids)
    assert "test_mid.py::test_0" not in slow and "test_mid.py::test_1" not in slow


def test_a_shard_says_what_it_runs_and_its_predicted_time(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest_subprocess(*PLAIN, "--greenline-shard", "1/2")
    result.stdout.fnmatch_lines(["greenline: shard 1/2 runs * of 12 tests (predicted 0.*s*"])


def test_the_shards_split_what_selection_selected(recorded: pytest.Pytester) -> None:
    app = recorded.path / "app.py"
    app.write_text(app.read_text().replace("return a + b", "return b + a"))
    select = ("--greenline-select=deselect",)
    shards = run_all_shards(recorded, 2, *select)
    assert set(exactly_once(shards)) == all_ids(), "every test calls add: all are selected"
    git(recorded.path, "checkout", "-q", "app.py")
    app.write_text(app.read_text().replace("return a * b", "return b * a"))
    shards = run_all_shards(recorded, 3, *select)
    assert exactly_once(shards) == Counter(), "no test calls mul: nothing is selected"


def test_xdist_inside_a_shard(recorded: pytest.Pytester) -> None:
    shards = run_all_shards(recorded, 2, "-p", "xdist", "-n", "2")
    assert set(exactly_once(shards)) == all_ids()


def test_a_retried_shard_reruns_exactly_its_tests(recorded: pytest.Pytester) -> None:
    key = ("--greenline-shard-key", "ci-run-7")
    _, first = run_shard(recorded, "0/2", *key)
    flipped = {name: list(reversed(ds)) for name, ds in DURATIONS.items()}
    (recorded.path / "sleep.json").write_text(json.dumps(flipped))
    recorded.runpytest_subprocess(*PLAIN, "--greenline-record")
    _, fresh = run_shard(recorded, "0/2")
    assert set(fresh) != set(first), "the new history gives a new plan"
    _, retried = run_shard(recorded, "0/2", *key)
    assert retried == first


def test_the_shard_comes_from_the_ci_variables(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, wanted = run_shard(recorded, "0/2")
    monkeypatch.setenv("CI_NODE_INDEX", "1")  # GitLab counts from 1
    monkeypatch.setenv("CI_NODE_TOTAL", "2")
    _, from_gitlab = run_shard(recorded, None)
    assert from_gitlab == wanted


def test_without_a_store_the_shards_split_by_count(suite: pytest.Pytester) -> None:
    shards = run_all_shards(suite, 3)
    assert set(exactly_once(shards)) == all_ids()
    assert [len(ids) for ids in shards] == [4, 4, 4]
    assert not (suite.path / ".greenline" / "greenline.db").exists()


def test_a_bad_shard_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(*PLAIN, "--greenline-shard", "2/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*shard index 2 is outside 0..1 (indexes are 0-based)*"])


def split(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", "split", *args)


def test_greenline_split_prints_the_plan_pytest_runs(recorded: pytest.Pytester) -> None:
    result = split(recorded, "--shards", "3", "--index", "0", "--format", "json")
    assert result.ret == 0, result.stderr.str()
    doc = json.loads(result.stdout.str())
    assert doc["schema"] == "greenline.shard_plan/1" and doc["shards"] == 3
    printed = [shard["tests"] for shard in doc["plan"]]
    assert doc["tests"] == printed[0]
    assert set(exactly_once(printed)) == all_ids()
    assert split(recorded, "-n", "3", "-i", "2").stdout.lines == printed[2]
    _, ran = run_shard(recorded, "2/3")
    assert sorted(ran) == sorted(printed[2])
    explained = split(recorded, "-n", "2", "-i", "1", "--explain")
    explained.stderr.fnmatch_lines(["2 shards from run 1: predicted *", "*1*this shard*"])


def test_greenline_split_spreads_new_test_files(recorded: pytest.Pytester) -> None:
    for name in ("test_new_a.py", "test_new_b.py"):
        (recorded.path / name).write_text("def test_it():\n    pass\n")
    printed = [split(recorded, "-n", "2", "-i", str(i)).stdout.lines for i in range(2)]
    assert {"test_new_a.py", "test_new_b.py"} <= set(exactly_once(printed))
    (recorded.path / "test_fast.py").unlink()
    printed = [split(recorded, "-n", "2", "-i", str(i)).stdout.lines for i in range(2)]
    assert not any(t.startswith("test_fast.py") for ids in printed for t in ids)


def test_greenline_split_reads_the_ci_variables(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIRCLE_NODE_INDEX", "1")
    monkeypatch.setenv("CIRCLE_NODE_TOTAL", "3")
    assert split(recorded).stdout.lines == split(recorded, "-n", "3", "-i", "1").stdout.lines
    monkeypatch.delenv("CIRCLE_NODE_INDEX")
    monkeypatch.delenv("CIRCLE_NODE_TOTAL")
    missing = split(recorded)
    assert missing.ret == 4
    missing.stderr.fnmatch_lines(["greenline: error: which shard?*", "Hint: *"])


def test_results_file_carries_outcomes_and_durations(suite: pytest.Pytester) -> None:
    (suite.path / "test_odd.py").write_text(
        "import pytest\n\n"
        "def test_fails():\n    assert False\n\n"
        "@pytest.mark.skip(reason='no')\ndef test_skipped():\n    pass\n\n"
        "@pytest.mark.xfail\ndef test_xfails():\n    assert False\n"
    )
    out = Path(suite.path / "r.jsonl")
    suite.runpytest_subprocess(*PLAIN, f"--greenline-results={out}", "test_odd.py", "test_slow.py")
    rows = {r.get("test_id"): r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["test_odd.py::test_fails"]["outcome"] == "failed"
    assert rows["test_odd.py::test_fails"]["phase"] == "call"
    assert rows["test_odd.py::test_skipped"]["outcome"] == "skipped"
    assert rows["test_odd.py::test_xfails"]["outcome"] == "xfailed"
    assert rows["test_slow.py::test_0"]["duration"] >= 0.4
    assert rows[None] == {"done": True, "exit_status": 1}


def test_the_recorded_runs_of_separate_shards_together_are_the_history(
    suite: pytest.Pytester,
) -> None:
    for index in range(2):
        ran = suite.runpytest_subprocess(
            *PLAIN, "--greenline-record", f"--greenline-shard={index}/2"
        )
        assert ran.ret == 0
    doc = json.loads(split(suite, "-n", "3", "-i", "0", "-f", "json").stdout.str())
    assert doc["estimated"] == [], "every test has a duration from one shard's run or the other's"
    assert doc["baseline_run_id"] == 2
