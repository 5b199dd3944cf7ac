"""Quarantine under pytest: a quarantined test still runs, but its failure does not fail the build.

Its failing report becomes an expected failure (``x``, with the quarantine's reason), a summary
line names every quarantined test that failed, and the recorder still stores the failure as a
failure. Without a store (or on trouble of greenline's own) nothing is quarantined and one
``greenline:`` line says why: failures then fail as usual.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from greenline.api import Greenline
from greenline.errors import GreenlineError
from greenline.model import QuarantineEntry

MARK = "greenline_quarantined"  # the report attribute the recorder reads


class QuarantinePlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.entries: dict[str, QuarantineEntry] = {}
        self.note = ""
        self.failed: list[str] = []
        try:
            with Greenline.open(
                config.rootpath, db=config.getoption("greenline_db"), create=False
            ) as gl:
                self.entries = gl.flaky.active_quarantine()
        except GreenlineError as exc:
            self.note = f"greenline: nothing is quarantined: {exc.message}"
        except Exception as exc:  # our own trouble: failures fail as usual
            self.note = f"greenline: nothing is quarantined: {exc!r}"
        else:
            self.note = f"greenline: {len(self.entries)} test(s) in quarantine"

    def pytest_report_header(self) -> str:
        return self.note

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        entry = self.entries.get(item.nodeid)
        if entry is not None and report.failed:
            setattr(report, MARK, report.when)
            report.outcome = "skipped"
            report.wasxfail = f"greenline quarantine: {entry.reason}"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, MARK, None) and report.nodeid not in self.failed:
            self.failed.append(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.failed:
            terminalreporter.write_line(
                f"greenline quarantine: {len(self.failed)} quarantined test(s) failed without "
                f"failing the build: {', '.join(self.failed)}",
                yellow=True,
            )
