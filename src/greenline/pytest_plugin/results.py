"""``--greenline-results=FILE``: every test's result (outcome, duration, phase, message, attempt,
file) as a JSON line, then one closing line with pytest's exit status, for a driver that
stores results itself (``greenline run --shards``: the shards run elsewhere, the driver alone
writes the store). Phases fold into outcomes exactly as recording folds them. Under xdist the
controller writes the file, so every result is in it once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pytest

from greenline.model import Outcome, Phase
from greenline.pytest_plugin.recorder import _message, _Pending, fold_report

#: bound at import: a test may replace ``json.dumps``/``json.loads`` (greenline still writes)
_dumps = json.dumps


class ResultsPlugin:
    def __init__(self, config: pytest.Config, path: str) -> None:
        self.config = config
        self.out: IO[str] = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.pending: dict[str, _Pending] = {}
        self.attempts: dict[str, int] = {}

    def _write(self, row: dict[str, Any]) -> None:
        self.out.write(_dumps(row, separators=(",", ":")) + "\n")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        pending = fold_report(self.pending, self.attempts, report)
        if report.when != "teardown":
            return
        del self.pending[nodeid]
        self.attempts[nodeid] = pending.attempt
        self._write(
            {
                "test_id": nodeid,
                "outcome": pending.outcome.value,
                "duration": round(pending.duration, 6),
                "phase": pending.phase.value if pending.phase else None,
                "message": pending.message,
                "attempt": pending.attempt,
                "path": report.location[0],
            }
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                {
                    "test_id": report.nodeid or "<rootdir>",
                    "outcome": Outcome.ERROR.value,
                    "duration": 0.0,
                    "phase": Phase.COLLECT.value,
                    "message": _message(report),
                    "attempt": 1,
                    "path": report.nodeid.split("::", 1)[0] or None,
                }
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """What is left to run once every plugin has chosen (selection, sharding)."""
        self._write({"collected": [item.nodeid for item in session.items]})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._write({"done": True, "exit_status": int(session.exitstatus)})
        self.out.flush()

    def pytest_unconfigure(self) -> None:
        self.out.close()
