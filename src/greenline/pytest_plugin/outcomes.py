"""For greenline's own experiments (``greenline flaky scan``): run tests in a seeded order and
write each test's outcome as a JSON line. Stdlib only; active only under its options."""

from __future__ import annotations

import json
import random
from typing import IO, Any

import pytest

#: bound at import: a test may replace ``json.dumps``/``json.loads`` (greenline still writes)
_dumps = json.dumps


class OrderPlugin:
    """``--greenline-order=SEED``: shuffle the collected tests with that seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        random.Random(self.seed).shuffle(items)


class SeedPlugin:
    """``--greenline-seed=N``: seed ``random``, the project's own ``random.Random`` generators
    (module-level ones, and those one attribute into its classes and objects) and NumPy's
    global generator, when loaded, before every test, so that randomness is the same in every
    run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        import sys

        from greenline.pytest_plugin.object_state import seed_generators

        random.seed(self.seed)
        seed_generators(item.config.rootpath, self.seed)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed(self.seed)


class OutcomesPlugin:
    """``--greenline-outcomes=FILE``: one JSON line per test with its final outcome, in run
    order (the controller writes them under xdist)."""

    def __init__(self, path: str) -> None:
        self.out: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.current: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.current.setdefault(
            report.nodeid, {"test_id": report.nodeid, "outcome": "passed", "message": None}
        )
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            if entry["message"] is None:
                entry["message"] = str(report.longrepr)[-2000:] if report.longrepr else None
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
        if report.when == "teardown":
            self.out.write(_dumps(self.current.pop(report.nodeid)) + "\n")
            self.out.flush()

    def pytest_unconfigure(self) -> None:
        self.out.close()
