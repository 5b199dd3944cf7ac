"""``greenline select``'s output on real recorded projects: totals, --why, args for pytest,
the same output under any hash seed, and tests skipped in the baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import git
from tests.plugin.test_select import RECORD, edit, ids, recorded, select

__all__ = ["recorded"]  # the fixture, used by name

PARAMS = """
import pytest

import app


@pytest.mark.parametrize("word", ["a b", "[x]"], ids=["with space", "br[ack]ets"])
def test_word(word):
    assert app.add(word, "") == word
"""


def commit_and_record(project: pytest.Pytester, **outcomes: int) -> None:
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "more tests")
    project.runpytest_subprocess(*RECORD).assert_outcomes(**outcomes)


def test_budget_totals_count_the_tests_left_out(recorded: pytest.Pytester) -> None:
    edit(recorded, "return a * b", "return a * b * 1")
    edit(recorded, "return a + b", "return a + b + 0")
    budgeted = select(recorded, "--budget", "0.0001s")
    budgeted.stdout.fnmatch_lines(["1 of 4 tests selected*", "1 more affected tests did not fit*"])
    doc = json.loads(select(recorded, "-f", "json", "--budget", "0.0001s").stdout.str())
    assert doc["baseline_tests"] == 4


def test_why_of_an_unknown_test_is_no_data(recorded: pytest.Pytester) -> None:
    result = select(recorded, "--why", "test_app.py::test_gone")
    assert result.ret == 5
    result.stderr.fnmatch_lines(
        ["greenline: error: test_app.py::test_gone is not in baseline run 1*", "Hint: *"]
    )


def test_args_feed_pytest_ids_with_spaces_and_brackets(recorded: pytest.Pytester) -> None:
    recorded.makepyfile(test_params=PARAMS)
    commit_and_record(recorded, passed=6)
    edit(recorded, "return a + b", "return a + b  # joined")
    edit(recorded, "def add(a, b):", "def add(a, b):\n    a = a or a")
    out = select(recorded, "-f", "args").stdout.str()
    assert "test_params.py::test_word[with space]\0" in out
    pipeline = subprocess.run(
        f"{sys.executable} -m greenline select -f args | xargs -0 "
        f"{sys.executable} -m pytest -p no:cacheprovider -v",
        shell=True,
        cwd=recorded.path,
        capture_output=True,
        text=True,
    )
    assert pipeline.returncode == 0, pipeline.stdout + pipeline.stderr
    assert "test_params.py::test_word[with space] PASSED" in pipeline.stdout
    assert "test_params.py::test_word[br[ack]ets] PASSED" in pipeline.stdout
    assert "3 passed" in pipeline.stdout, "only the selected tests ran"


FIVE = "".join(f"\n\ndef f{i}(x):\n    return x + {i}\n" for i in range(5))


def test_every_output_is_the_same_under_any_hash_seed(recorded: pytest.Pytester) -> None:
    (recorded.path / "five.py").write_text(FIVE)
    recorded.makepyfile(
        test_five="import five\n\ndef test_all():\n    assert [five.f0(0), five.f1(0), five.f2(0),"
        " five.f3(0), five.f4(0)] == [0, 1, 2, 3, 4]\n"
    )
    commit_and_record(recorded, passed=5)
    (recorded.path / "five.py").write_text(FIVE.replace("return x +", "return 0 + x +"))
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        proc = subprocess.run(
            [sys.executable, "-m", "greenline", "select", "-f", "json"],
            cwd=recorded.path,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1, "the output depends on the hash seed"
    (test,) = json.loads(outputs.pop())["selected"]
    assert [r["detail"] for r in test["reasons"]] == [f"five.py::f{i}" for i in range(5)]


SKIPPED = """
import pytest

import helper


@pytest.mark.skipif(helper.OFF, reason="off")
def test_later():
    assert True
"""


def test_a_skipped_test_runs_only_when_its_file_or_imports_change(
    recorded: pytest.Pytester,
) -> None:
    (recorded.path / "helper.py").write_text("OFF = True\n")
    recorded.makepyfile(test_skipped=SKIPPED)
    commit_and_record(recorded, passed=4, skipped=1)
    assert ids(recorded) == [], "nothing changed, nothing runs"
    edit(recorded, "return a * b", "return a * b * 1")
    assert ids(recorded) == ["test_app.py::test_mul"], "a change it does not import"
    (recorded.path / "helper.py").write_text("OFF = False\n")
    assert sorted(ids(recorded)) == ["test_app.py::test_mul", "test_skipped.py::test_later"]
    doc = json.loads(select(recorded, "-f", "json").stdout.str())
    reasons = {t["test_id"]: t["reasons"] for t in doc["selected"]}
    assert {
        "kind": "no-coverage",
        "detail": "skipped in the baseline; test_skipped.py imports helper.py",
    } in reasons["test_skipped.py::test_later"]
    git(recorded.path, "checkout", "-q", "--", ".")
    edit(recorded, "def test_later():", "def test_later():  # soon", "test_skipped.py")
    assert ids(recorded) == ["test_skipped.py::test_later"], "its own file changed"
