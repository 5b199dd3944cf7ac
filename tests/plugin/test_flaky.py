"""Flaky tests end to end: found in recorded history, explained, quarantined and released."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from greenline.api import Greenline
from tests.conftest import git, init_repo

RECORD = ("-p", "greenline", "--greenline-record", "-p", "no:cacheprovider")

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

COIN = "test_flaky.py::test_coin"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("FLIP", raising=False)
    pytester.makepyfile(
        test_flaky="""
        import os
        from pathlib import Path

        def test_coin():
            assert os.environ.get("FLIP") != "1", "the coin came up tails"

        def test_broken():
            assert 1 + 1 == 3

        def test_steady():
            assert True

        def test_retried():
            marker = Path(__file__).with_name("first-attempt.done")
            if not marker.exists():
                marker.write_text("x")
                raise ConnectionError("Max retries exceeded with url: /api")
        """
    )
    init_repo(pytester.path)
    return pytester


def greenline(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "greenline", *args)


def flaky_doc(project: pytest.Pytester) -> dict[str, dict[str, object]]:
    doc = json.loads(greenline(project, "flaky", "list", "-f", "json").stdout.str())
    assert doc["schema"] == "greenline.flaky/1"
    return {t["test_id"]: t for t in doc["tests"]}


def test_history_shows_which_tests_flake_and_why(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.runpytest_subprocess(*RECORD)
    monkeypatch.setenv("FLIP", "1")  # same commit, same environment: only luck differs
    project.runpytest_subprocess(*RECORD)
    monkeypatch.delenv("FLIP")
    (project.path / "first-attempt.done").unlink()
    project.runpytest_subprocess(*RECORD, "-p", "rerunfailures", "--reruns", "1")
    tests = flaky_doc(project)
    assert set(tests) == {COIN, "test_flaky.py::test_broken", "test_flaky.py::test_retried"}
    coin = tests[COIN]
    assert coin["verdict"] == "flaky" and coin["confidence"] == 0.95
    assert [e["kind"] for e in coin["evidence"]] == ["same-code"]  # type: ignore[union-attr]
    assert tests["test_flaky.py::test_broken"]["verdict"] == "failing"
    retried = tests["test_flaky.py::test_retried"]
    assert retried["verdict"] == "flaky" and retried["category"] == "network"
    kinds = [e["kind"] for e in retried["evidence"]]  # type: ignore[union-attr]
    assert kinds == ["same-code", "passed-on-retry", "failure-message"]
    explained = greenline(project, "flaky", "explain", COIN)
    explained.stdout.fnmatch_lines(
        [
            f"{COIN}: flaky (unknown), confidence 0.95, from 3 recorded runs (1 failed first time)",
            "  - same-code: passed 2 and failed 1 times on commit *",
        ]
    )
    listed = greenline(project, "flaky", "list")
    listed.stdout.fnmatch_lines(["2 flaky, 1 failing every time, 0 in quarantine"])
    unknown = greenline(project, "flaky", "explain", "test_flaky.py::test_con")
    assert unknown.ret == 5
    unknown.stderr.fnmatch_lines(["*no results for test*", "Hint: did you mean*test_coin*"])


def test_quarantine_keeps_a_flaky_failure_from_failing_the_build(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.path / "pyproject.toml").write_text("[tool.greenline]\nquarantine_release_after = 2\n")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "settings")
    project.runpytest_subprocess(*RECORD, "-k", "coin")
    done = greenline(
        project, "flaky", "quarantine", COIN, "--reason", "flips: #12", "--owner", "ana"
    )
    assert done.ret == 0, done.stderr.str()
    again = greenline(project, "flaky", "quarantine", COIN, "--reason", "again")
    assert again.ret == 4
    again.stderr.fnmatch_lines(["*already quarantined (flips: #12)*", "Hint:*release*"])
    late = greenline(
        project,
        "flaky",
        "quarantine",
        "test_flaky.py::test_steady",
        "--reason",
        "x",
        "--expires",
        "soon",
    )
    assert late.ret == 4
    late.stderr.fnmatch_lines(["*--expires 'soon': not a duration or a date*"])

    monkeypatch.setenv("FLIP", "1")
    result = project.runpytest_subprocess(*RECORD, "--greenline-quarantine", "-k", "coin")
    assert result.ret == 0, "a quarantined failure does not fail the build"
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "greenline: 1 test(s) in quarantine",
            f"greenline quarantine: 1 quarantined test(s) failed without failing the build: {COIN}",
        ]
    )
    run = json.loads(greenline(project, "run", "show", "2", "-f", "json", "--all").stdout.str())
    outcomes = {r["test_id"]: r["outcome"] for r in run["results"]}
    assert outcomes[COIN] == "failed", "the store keeps the truth"

    monkeypatch.delenv("FLIP")
    for _ in range(2):  # a streak of passing recorded runs releases it
        project.runpytest_subprocess(*RECORD, "--greenline-quarantine", "-k", "coin")
    doc = json.loads(greenline(project, "flaky", "list", "-f", "json").stdout.str())
    assert doc["quarantined"] == []
    history = json.loads(greenline(project, "flaky", "explain", COIN, "-f", "json").stdout.str())
    (entry,) = history["quarantine_history"]
    assert entry["owner"] == "ana" and entry["release_reason"] == "passed 2 recorded runs in a row"

    monkeypatch.setenv("FLIP", "1")
    released = project.runpytest_subprocess(
        "-p", "greenline", "-p", "no:cacheprovider", "--greenline-quarantine", "-k", "coin"
    )
    assert released.ret == 1, "released: its failures fail the build again"


def test_quarantine_expires_and_is_released_by_hand(project: pytest.Pytester) -> None:
    project.runpytest_subprocess(*RECORD)
    now = datetime.now(UTC)
    with Greenline.open(project.path) as gl:
        gl.flaky.quarantine(COIN, "flaky", expires_at=now + timedelta(hours=1), now=now)
        assert set(gl.flaky.active_quarantine(now)) == {COIN}
        assert gl.flaky.active_quarantine(now + timedelta(hours=2)) == {}, "expired"
    released = greenline(project, "flaky", "release", COIN, "--reason", "fixed in #13")
    assert released.ret == 0
    released.stdout.fnmatch_lines([f"released {COIN} from quarantine (fixed in #13)"])
    twice = greenline(project, "flaky", "release", COIN)
    assert twice.ret == 5
    twice.stderr.fnmatch_lines([f"*{COIN} is not quarantined*"])
    unknown = greenline(project, "flaky", "quarantine", "test_flaky.py::test_nope", "--reason", "x")
    assert unknown.ret == 5
