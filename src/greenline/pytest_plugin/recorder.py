"""Recording under pytest: per-test coverage where tests run, results into the store where the
session is controlled (the only process that writes, so xdist records every result once)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from greenline.api import FINISHED_EXIT_CODES, Greenline
from greenline.config import load_settings
from greenline.errors import GreenlineError
from greenline.model import Block, Outcome, Phase, TestResult
from greenline.tracing import CoverageCollector
from greenline.tracing.cache import FingerprintCache
from greenline.vcs import find_root

FLUSH_RESULTS = 500
FLUSH_SECONDS = 2.0
MESSAGE_CHARS = 1000
BLOCKS_ATTR = "greenline_blocks"


def register_recorder(config: pytest.Config) -> None:
    """Wire the recorder into this pytest process (xdist workers only trace)."""
    root = find_root(config.rootpath) or config.rootpath
    is_worker = hasattr(config, "workerinput")
    try:
        settings = load_settings(root, os.environ)
        cache = getattr(config, "cache", None)  # pytest's cache dir, unless -p no:cacheprovider
        collector = CoverageCollector(
            root,
            settings.coverage_exclude,
            config.getoption("greenline_tracer"),
            FingerprintCache(cache.mkdir("greenline")) if cache is not None else None,
        )
        if not is_worker:
            gl = Greenline.open(config.rootpath, db=config.getoption("greenline_db"))
            recording = RecordingPlugin(config, gl, root, collector.tracer.name)
            config.pluginmanager.register(recording, "greenline-recording")
    except GreenlineError as exc:
        raise pytest.UsageError(f"greenline: {exc}") from None
    config.pluginmanager.register(CoveragePlugin(collector), "greenline-coverage")


class CoveragePlugin:
    """Traces each test's setup, call and teardown, and attaches the blocks they ran to the
    teardown report. Only the three phases are traced, not pytest's reporting around them: on
    Python 3.11 any active hook slows every line that runs."""

    def __init__(self, collector: CoverageCollector) -> None:
        self.collector = collector

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self) -> Any:
        self.collector.begin_test()
        try:
            return (yield)
        finally:
            self.collector.pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self) -> Any:
        self.collector.resume()
        try:
            return (yield)
        finally:
            self.collector.pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self) -> Any:
        self.collector.resume()
        try:
            return (yield)
        finally:
            self.collector.pause()

    def pytest_unconfigure(self) -> None:
        self.collector.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if call.when == "teardown":
            blocks = self.collector.end_test()
            setattr(report, BLOCKS_ATTR, [[b.path, b.name, b.checksum] for b in blocks])
        return report


@dataclass
class _Pending:
    """A test's attempt while its phase reports arrive."""

    attempt: int
    outcome: Outcome = Outcome.PASSED
    phase: Phase | None = None
    message: str | None = None
    duration: float = 0.0


def _message(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")[:MESSAGE_CHARS]
    crash = getattr(longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or (str(longrepr) if longrepr else "")
    lines = text.strip().splitlines()
    if not lines:
        return None
    # A collection error is plain text; its last "E   " line names the exception.
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors[-1] if errors else lines[0])[:MESSAGE_CHARS]


def _apply(pending: _Pending, report: pytest.TestReport) -> None:
    """Fold one phase report into the attempt's outcome."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.failed:
            pending.outcome, pending.phase = Outcome.ERROR, Phase.SETUP
        elif report.skipped:
            pending.outcome = Outcome.XFAILED if xfail else Outcome.SKIPPED
    elif report.when == "call":
        if xfail:
            pending.outcome = Outcome.XFAILED if report.skipped else Outcome.XPASSED
        elif report.failed:
            pending.outcome, pending.phase = Outcome.FAILED, Phase.CALL
        elif report.skipped:
            pending.outcome = Outcome.SKIPPED
    elif report.failed and not pending.outcome.is_failure:
        pending.outcome, pending.phase = Outcome.ERROR, Phase.TEARDOWN
    if (report.failed or report.skipped) and pending.message is None:
        pending.message = _message(report)


class RecordingPlugin:
    """Turns phase reports into results and writes them in batches; fails open on store trouble."""

    def __init__(self, config: pytest.Config, gl: Greenline, root: Path, tracer: str) -> None:
        self.config = config
        self.gl = gl
        self.root = root
        self.tracer = tracer
        self.run_id = gl.start_run("pytest", args=" ".join(config.invocation_params.args))
        self.pending: dict[str, _Pending] = {}
        self.attempts: dict[str, int] = {}
        self.results: list[TestResult] = []
        self.coverage: dict[str, list[Block]] = {}
        self.paths: dict[str, str] = {}
        self.recorded = 0
        self.last_flush = time.monotonic()
        self.error: str | None = None

    def pytest_report_header(self) -> str:
        where = "" if self.gl.in_git else " (not a git repository: no commit info)"
        return (
            f"greenline: recording run {self.run_id} into {self.gl.store.display_url} "
            f"(tracer: {self.tracer}){where}"
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        pending = self.pending.get(nodeid)
        if pending is None:
            pending = self.pending[nodeid] = _Pending(self.attempts.get(nodeid, 0) + 1)
        pending.duration += report.duration
        if str(report.outcome) == "rerun":
            # pytest-rerunfailures: this attempt failed and another follows; its teardown
            # report still comes and closes the attempt.
            pending.outcome, pending.phase = Outcome.FAILED, Phase(report.when or "call")
            pending.message = pending.message or _message(report)
        else:
            _apply(pending, report)
        if report.when == "teardown":
            self._close(report, pending)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that fails to import is recorded as an error of the module's node id."""
        if not report.failed:
            return
        nodeid = report.nodeid or "<rootdir>"
        path = self._path(nodeid.split("::", 1)[0]) if report.nodeid else None
        message = _message(report)
        result = TestResult(nodeid, Outcome.ERROR, 0.0, Phase.COLLECT, message, 1, path)
        self.results.append(result)

    def _close(self, report: pytest.TestReport, pending: _Pending) -> None:
        nodeid = report.nodeid
        del self.pending[nodeid]
        self.attempts[nodeid] = pending.attempt
        self.results.append(
            TestResult(
                test_id=nodeid,
                outcome=pending.outcome,
                duration=round(pending.duration, 6),
                phase=pending.phase,
                message=pending.message,
                attempt=pending.attempt,
                path=self._path(report.location[0]),
            )
        )
        raw = getattr(report, BLOCKS_ATTR, None)
        if raw:
            self.coverage.setdefault(nodeid, []).extend(Block(*b) for b in raw)
        if len(self.results) >= FLUSH_RESULTS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self._flush()

    def _path(self, location: str) -> str:
        if location not in self.paths:
            path = (self.config.rootpath / location).resolve()
            try:
                self.paths[location] = path.relative_to(self.root.resolve()).as_posix()
            except ValueError:
                self.paths[location] = location
        return self.paths[location]

    def _flush(self) -> None:
        self.last_flush = time.monotonic()
        if self.error is not None or not self.results:
            return
        try:
            self.gl.add_results(self.run_id, self.results, self.coverage)
            self.recorded += len(self.results)
        except GreenlineError as exc:  # fail open: the tests go on, the run stays incomplete
            self.error = str(exc).splitlines()[0]
        self.results, self.coverage = [], {}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self._flush()
        complete = self.error is None and int(exitstatus) in FINISHED_EXIT_CODES
        try:
            self.gl.finish_run(self.run_id, int(exitstatus), complete=complete)
        except GreenlineError as exc:
            self.error = self.error or str(exc).splitlines()[0]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.error:
            terminalreporter.write_line(
                f"greenline: recording failed, run {self.run_id} left incomplete: {self.error}",
                yellow=True,
            )
            return
        terminalreporter.write_line(
            f"greenline: recorded run {self.run_id}: {self.recorded} results "
            f"into {self.gl.store.display_url}"
        )

    def pytest_unconfigure(self) -> None:
        self.gl.close()
