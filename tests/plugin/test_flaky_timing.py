"""A timing threshold on real pytest runs: a test that asserts how long something took is
found flaky, classified ``timing`` (the probe sees it measure elapsed time; its failures show
the timer), explained, and given no patch that would widen its threshold."""

from __future__ import annotations

import json
import sys

import pytest

from greenline.flaky.causes import guess_category, with_observations
from greenline.model import FlakyCategory
from tests.conftest import init_repo

TEST = "test_speed.py::test_fast_enough"
pytestmark = pytest.mark.usefixtures("without_plugin_autoload")


def test_messages_and_probes_point_to_timing() -> None:
    message = "assert 0.051 < 0.02\n +  where 0.051 = <built-in function perf_counter>() - 3.2"
    assert guess_category([message]) == (FlakyCategory.TIMING, 1)
    category, seen = with_observations(FlakyCategory.UNKNOWN, {"timer": ["time.perf_counter"]})
    assert category is FlakyCategory.TIMING and seen and "measured elapsed time" in seen


def test_a_timing_threshold_is_classified_and_explained_not_widened(
    pytester: pytest.Pytester,
) -> None:
    # every other run in one checkout is "under load" (it works five times longer)
    pytester.makepyfile(
        test_speed="""
        import time
        from pathlib import Path

        def work(loaded):
            time.sleep(0.06 if loaded else 0.0)

        def test_fast_enough():
            toggle = Path(__file__).with_name("toggle.txt")
            loaded = not toggle.exists()
            toggle.write_text("x") if loaded else toggle.unlink()
            start = time.perf_counter()
            work(loaded)
            assert time.perf_counter() - start < 0.03
        """
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / ".gitignore").write_text("toggle.txt\n")
    init_repo(pytester.path)
    scan = pytester.run(sys.executable, "-m", "greenline", "flaky", "scan", "-f", "json")
    assert scan.ret == 0, scan.stderr.str()
    verdict = next(v for v in json.loads(scan.stdout.str())["tests"] if v["test_id"] == TEST)
    assert verdict["verdict"] == "flaky" and verdict["category"] == "timing"
    fix = pytester.run(sys.executable, "-m", "greenline", "flaky", "fix", TEST, "-f", "json")
    assert fix.ret == 1
    doc = json.loads(fix.stdout.str())
    assert not doc["fixed"] and "never widens a threshold" in " ".join(doc["not_offered"])
