"""A set's order that shows through the code under test (not the test's own iteration): the
fix goes into the code under test, iterating the set in sorted order, verified like any fix;
the test and its assertion stay as they are."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import init_repo

TEST = "tests/test_tags.py::test_tags_are_listed"
pytestmark = pytest.mark.usefixtures("without_plugin_autoload")


def test_order_through_the_code_under_test_is_fixed_there(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.mkpydir("labels")
    (pytester.path / "labels" / "tags.py").write_text(
        "def listing(items):\n"
        "    unique = {item.strip().lower() for item in items}\n"
        "    return ', '.join(unique)\n"
    )
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_tags.py").write_text(
        "from labels.tags import listing\n\n\n"
        "def test_tags_are_listed():\n"
        "    assert listing(['Beta', 'alpha ', 'beta']) == 'alpha, beta'\n"
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    result = pytester.run(
        sys.executable,
        "-m",
        "greenline",
        "flaky",
        "fix",
        TEST,
        "--apply",
        "--verify-runs",
        "20",
        "-f",
        "json",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    doc = json.loads(result.stdout.str())
    assert doc["test"]["category"] == "unordered-collection"
    assert doc["patch"]["path"] == "labels/tags.py"
    assert "+    return ', '.join(sorted(unique))" in doc["patch"]["diff"]
    assert any("the test iterates no set" in why for why in doc["not_offered"])
    test_source = (pytester.path / "tests" / "test_tags.py").read_text()
    assert "== 'alpha, beta'" in test_source, "the assertion is untouched"
    for seed in ("1", "2", "3", "4"):  # set order differs between hash seeds; the output not
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        run = pytester.run(
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            TEST,
        )
        assert run.ret == 0, f"hash seed {seed}"
