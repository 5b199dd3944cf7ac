"""greenline flaky scan on a real project: reruns find the flaky tests, delta debugging finds
the polluter of an order-dependent one, and the test that cleans up after it."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import init_repo

VICTIM = "test_one.py::test_reads_the_default"

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        settings="MODE = 'default'\n",
        test_one="""
        import settings

        def test_reads_the_default():
            assert settings.MODE == "default"

        def test_steady():
            assert sum([1, 2]) == 3
        """,
        test_two="""
        import settings

        def test_switches_mode():
            settings.MODE = "fast"  # leaks: nothing puts it back

        def test_resets_mode():
            settings.MODE = "default"

        def test_broken():
            assert 1 + 1 == 3
        """,
        test_four="""
        def test_set_order():
            assert list({"alpha", "beta", "gamma"})[0] == "alpha"
        """,
        test_three="""
        from pathlib import Path

        def test_every_other_run():
            toggle = Path(__file__).with_name("toggle.txt")
            odd = not toggle.exists()
            toggle.write_text("x") if odd else toggle.unlink()
            assert not odd, "failed on an odd run"
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    return pytester


def scan(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", "flaky", "scan", *args)


def test_scan_finds_flaky_tests_and_the_polluter(project: pytest.Pytester) -> None:
    result = scan(project, "--runs", "10", "--workers", "2", "-f", "json")
    assert result.ret == 0, result.stderr.str()
    doc = json.loads(result.stdout.str())
    assert doc["schema"] == "greenline.flaky-scan/1" and doc["trials"] >= 10
    tests = {t["test_id"]: t for t in doc["tests"]}
    verdicts = {t: v["verdict"] for t, v in tests.items()}
    assert verdicts == {
        VICTIM: "flaky",
        "test_three.py::test_every_other_run": "flaky",
        "test_two.py::test_broken": "failing",
        "test_one.py::test_steady": "stable",
        "test_two.py::test_switches_mode": "stable",
        "test_two.py::test_resets_mode": "stable",
        "test_four.py::test_set_order": "flaky",
    }
    victim = tests[VICTIM]
    assert victim["category"] == "order-dependent"
    assert victim["polluters"] == ["test_two.py::test_switches_mode"]
    assert victim["cleaners"] == ["test_two.py::test_resets_mode"]
    kinds = [e["kind"] for e in victim["evidence"]]
    assert kinds == ["reruns", "order", "polluter", "polluter", "cleaner"]
    assert (
        victim["evidence"][3]["detail"]
        == "it leaves changed: settings.MODE (was 'default', now 'fast')"
    )
    toggle = tests["test_three.py::test_every_other_run"]
    assert toggle["category"] != "order-dependent"
    assert toggle["polluters"] == [], "nothing before it decides it: it flips by itself"
    hashed = tests["test_four.py::test_set_order"]
    assert hashed["category"] == "unordered-collection"
    assert "with a fixed hash seed: hash seed" in hashed["evidence"][-1]["detail"]
    # the scan is kept: explain shows it (this test has no recorded history at all)
    explained = project.run(sys.executable, "-m", "greenline", "flaky", "explain", VICTIM)
    assert explained.ret == 0, explained.stderr.str()
    explained.stdout.fnmatch_lines(
        [
            f"{VICTIM}: newest scan, * UTC at *: flaky (order-dependent), failed * of * runs",
            "  - reruns: *",
            "  - order: passes alone and in the collected order, fails after some other tests",
            "  - polluter: running test_two.py::test_switches_mode first makes it fail*",
            "  - polluter: it leaves changed: settings.MODE (was 'default', now 'fast')",
            "  - cleaner: run between them, test_two.py::test_resets_mode makes it pass",
        ]
    )
    as_json = project.run(
        sys.executable, "-m", "greenline", "flaky", "explain", VICTIM, "--format", "json"
    )
    doc = json.loads(as_json.stdout.str())
    assert doc["scan"]["polluters"] == ["test_two.py::test_switches_mode"]
    assert doc["scan"]["sha"] and doc["polluters"] == doc["scan"]["polluters"]


def test_scan_narrowed_to_one_test_and_its_text_report(project: pytest.Pytester) -> None:
    result = scan(project, VICTIM, "--runs", "8", "--", "test_one.py", "test_two.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "1 flaky of 1 tests after * runs *",
            f"{VICTIM}: flaky (order-dependent)",
            "  - reruns: failed * of * controlled runs",
            "*polluter: running test_two.py::test_switches_mode first makes it fail*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "1"], "*--runs 1: too few to tell*"),
        (["test_one.py::test_nope"], "*not in the suite: test_one.py::test_nope*"),
        (["--", "-k", "nothing_matches"], "*collected no tests*"),
        (["--workers", "0"], "*--workers 0: must be at least 1*"),
    ],
)
def test_scan_refuses_what_it_cannot_do(
    project: pytest.Pytester, args: list[str], message: str
) -> None:
    result = scan(project, *args)
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"greenline: error: {message}", "Hint: *"])
