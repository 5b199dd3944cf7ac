"""Every fixer end to end on one real project: a scan finds each flaky test's root cause (and
is stored), then ``greenline flaky fix`` reuses it, synthesises a patch and verifies it (60 runs
under the failing condition and the whole suite) before offering it."""

from __future__ import annotations

import fcntl
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NO_PLUGIN_AUTOLOAD, init_repo

FILES = {
    "registry.py": "ITEMS = {}\n",
    "test_registry.py": """
        import registry

        def test_starts_empty():  # victim: nothing cleans up after test_register
            assert registry.ITEMS == {}

        def test_register():
            registry.ITEMS["plugin"] = 1
        """,
    "test_sets.py": """
        def test_first_tag():
            assert list({"db", "web"})[0] == "db"
        """,
    "test_floats.py": """
        import random

        def test_total():
            values = [0.1, 0.2, 0.3, 0.4, 1e-17, 0.7]
            random.SystemRandom().shuffle(values)
            assert sum(values) == 1.7000000000000002
        """,
    "test_clock.py": """
        from datetime import datetime

        def test_even_microsecond():
            assert datetime.now().microsecond % 2 == 0
        """,
    "test_dice.py": """
        import random

        def test_roll():
            assert random.randint(1, 6) <= 3
        """,
    "test_token.py": """
        import os

        def test_token():
            token = os.urandom(1)[0]
            assert token < 128, f"random token {token}"
        """,
    "test_steady.py": """
        def test_steady():
            assert sorted({3, 1, 2}) == [1, 2, 3]
        """,
}


def greenline(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenline", "flaky", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **NO_PLUGIN_AUTOLOAD},
    )


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The project, scanned once for every case even when xdist spreads them over workers (they
    share the parent of their temp dirs; a lock lets the first one scan)."""
    shared = tmp_path_factory.getbasetemp().parent
    root, result = shared / "fixers" / "project", shared / "fixers" / "scan.json"
    with (shared / "fixers.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            shutil.rmtree(root.parent, ignore_errors=True)
            root.mkdir(parents=True)
            for name, text in FILES.items():
                (root / name).write_text(textwrap.dedent(text).lstrip())
            (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
            init_repo(root)
            scan = greenline(root, "scan", "--runs", "10", "--workers", "2", "-f", "json")
            assert scan.returncode == 0, scan.stderr
            result.write_text(scan.stdout)
    doc = json.loads(result.read_text())
    return root, {t["test_id"]: t for t in doc["tests"]}


@pytest.fixture
def project(scanned: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    copy = tmp_path / "project"  # same directory name: the same repository to greenline
    shutil.copytree(scanned[0], copy)
    return copy


CASES = {
    "test_registry.py::test_starts_empty": (
        "order-dependent",
        "restore registry.ITEMS to how it was before the tests ran*",
        ["registry.ITEMS.clear()", "registry.ITEMS.update({})"],
    ),
    "test_sets.py::test_first_tag": (
        "unordered-collection",
        "iterate 1 set(s) in sorted order",
        ['assert list(sorted({"db", "web"}))[0] == "db"'],
    ),
    "test_floats.py::test_total": (
        "floating-point",
        "compare floats with pytest.approx (rel=1e-12)",
        ["assert sum(values) == pytest.approx(1.7000000000000002, rel=1e-12)"],
    ),
    "test_clock.py::test_even_microsecond": (
        "time",
        "freeze the clock at 2000-01-01T00:00:00+00:00 (time-machine)",
        ['@time_machine.travel("2000-01-01T00:00:00+00:00", tick=False)'],
    ),
    "test_dice.py::test_roll": (
        "randomness",
        "seed random with * at the start of the test",
        ["random.seed("],
    ),
}


@pytest.mark.parametrize("test_id", sorted(CASES))
def test_each_root_cause_gets_a_verified_fix(
    scanned: tuple[Path, dict[str, Any]], project: Path, test_id: str
) -> None:
    category, description, expected = CASES[test_id]
    verdict = scanned[1][test_id]
    assert (verdict["verdict"], verdict["category"]) == ("flaky", category), verdict
    # 20 verification runs keep this test quick; the default (60) is covered by test_flaky_fix
    result = greenline(project, "fix", test_id, "--apply", "--verify-runs", "20", "-f", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["fixed"] and doc["applied"] and doc["verified_runs"] == 20
    assert doc["scan"].startswith("the scan of "), "the fix reuses the stored scan"
    assert doc["test"]["category"] == category
    assert fnmatch.fnmatch(doc["patch"]["description"], description), doc["patch"]
    after = (project / doc["patch"]["path"]).read_text()
    for text in expected:
        assert text in after, after
    # the fixed suite passes, in random orders and hash seeds, without greenline's help
    for seed in range(3):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_id.split("::")[0],
             f"--greenline-order={seed}"],
            cwd=project, capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONHASHSEED": str(seed + 7)},
        )  # fmt: skip
        assert run.returncode == 0, run.stdout


def test_patches_that_fail_verification_are_not_offered(project: Path) -> None:
    """Its message says random, but no seed of ``random`` controls os.urandom: every seeded
    patch fails verification and none is offered."""
    result = greenline(
        project, "fix", "test_token.py::test_token", "--verify-runs", "20", "-f", "json"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert not doc["fixed"] and doc["patch"] is None
    assert doc["test"]["category"] == "randomness"
    reasons = doc["not_offered"]
    assert len(reasons) == 5 and all("under its failing condition" in r for r in reasons)
    assert (project / "test_token.py").read_text() == textwrap.dedent(
        FILES["test_token.py"]
    ).lstrip(), "nothing is written"
    too_few = greenline(project, "fix", "test_token.py::test_token", "--verify-runs", "3")
    assert too_few.returncode == 4
    assert "--verify-runs 3: too few to call a patch verified" in too_few.stderr
