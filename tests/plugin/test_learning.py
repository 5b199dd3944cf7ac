"""Learning the ranking end to end: recorded runs with changes become examples, recording learns
a model once there are enough, and selection ranks with it."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import git, init_repo

pytest.importorskip("sklearn")

FUNCTIONS = 8
PER_FUNCTION = 10
RECORD = ("--greenline-record", "-p", "no:cacheprovider", "-q")


def make_project(pytester: pytest.Pytester) -> None:
    lib = "".join(f"def scale_{i}(x):\n    return x + {i}\n\n\n" for i in range(FUNCTIONS))
    pytester.makepyfile(lib=lib)
    for i in range(FUNCTIONS):
        helper = (i + 1) % FUNCTIONS
        body = "".join(
            f"def test_scale_{i}_{k}():\n    assert lib.scale_{i}({k}) == {k + i}\n"
            f"    assert lib.scale_{helper}(0) >= 0\n\n\n"
            for k in range(PER_FUNCTION)
        )
        pytester.makepyfile(**{f"test_f{i}": "import lib\n\n\n" + body})
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)


def greenline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "greenline", *args)


def test_recorded_changes_teach_the_ranking(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # edits of one size within one second would otherwise reuse a stale .pyc
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    make_project(pytester)
    pytester.runpytest_subprocess(*RECORD).assert_outcomes(passed=PER_FUNCTION * FUNCTIONS)
    too_early = greenline(pytester, "ranking", "learn")
    assert too_early.ret == 4
    too_early.stderr.fnmatch_lines(["*too little history*", "Hint:*"])

    lib = pytester.path / "lib.py"
    clean = lib.read_text()
    for i in range(FUNCTIONS):  # each run breaks one function in the working tree
        lib.write_text(clean.replace(f"return x + {i}", f"return x + {i} + 1"))
        pytester.runpytest_subprocess(*RECORD).assert_outcomes(
            failed=PER_FUNCTION, passed=PER_FUNCTION * (FUNCTIONS - 1)
        )
        lib.write_text(clean)

    shown = json.loads(greenline(pytester, "ranking", "show", "-f", "json").stdout.str())
    assert shown["schema"] == "greenline.ranking/1"
    history = shown["history"]
    # every run: the broken function's own tests, and those that call it as a helper, are affected
    assert history == {
        "examples": 2 * PER_FUNCTION * FUNCTIONS,
        "failing": PER_FUNCTION * FUNCTIONS,
    }
    model = shown["model"]
    assert model is None, "160 examples are too few: recording learns nothing yet"

    for i in range(FUNCTIONS // 2):  # more history: recording now learns on its own
        lib.write_text(clean.replace(f"return x + {i}", f"return x + {i} + 2"))
        pytester.runpytest_subprocess(*RECORD)
        lib.write_text(clean)
    shown = json.loads(greenline(pytester, "ranking", "show", "-f", "json").stdout.str())
    model = shown["model"]
    assert model is not None and model["examples"] >= 200 and model["trees"] == 100
    assert model["held_out"]["examples"] > 0

    lib.write_text(clean.replace("return x + 3", "return x + 3 + 1"))
    plan = json.loads(greenline(pytester, "select", "-f", "json").stdout.str())
    expected = f"model {model['id']}" if model["adopted"] else "heuristic"
    assert plan["ranker"].startswith(expected)
    first = [t["test_id"] for t in plan["selected"][:6]]
    assert all(t.startswith("test_f3.py::test_scale_3_") for t in first), "its own tests first"
    assert len(plan["selected"]) == 2 * PER_FUNCTION, "and the tests that use it as a helper"
    git(pytester.path, "status")  # the store stays out of git
    explained = greenline(pytester, "ranking", "show")
    explained.stdout.fnmatch_lines(["history: * examples*", "*learned from*"])
