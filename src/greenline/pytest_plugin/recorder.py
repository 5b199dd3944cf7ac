"""Recording under pytest: tracing where tests run, and forwarding results to the store writer
from the process that controls the session (so under xdist every result is sent once)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from greenline.config import Settings, load_settings, mask_args, mask_url
from greenline.errors import GreenlineError
from greenline.ids import clip_message, test_id_problem
from greenline.model import Outcome, Phase
from greenline.pytest_plugin.writer import StoreWriter
from greenline.tracing import CoverageCollector
from greenline.tracing.children import SubprocessTracker, stop_in_this_process
from greenline.tracing.environment import read_environment
from greenline.tracing.files import FileReadTracker
from greenline.tracing.imports import ImportTimeRecorder
from greenline.vcs import find_root

FLUSH_RESULTS = 500
FLUSH_SECONDS = 2.0
MESSAGE_CHARS = 1000
SITES_ATTR = "greenline_sites"
IMPORT_TIME_KEY = "greenline_import_time"
CHILDREN_KEY = "greenline_children"
FILES_ATTR = "greenline_files"
#: pytest exit codes after which every collected test had its chance to run.
FINISHED_EXIT_CODES = frozenset({0, 1, 5})


@dataclass
class _Tracing:
    """What recording set up before conftest files loaded, for ``register_recorder``."""

    root: Path
    in_git: bool
    settings: Settings
    collector: CoverageCollector
    imports: ImportTimeRecorder


TRACING_KEY = pytest.StashKey[_Tracing]()


def start_import_recording(config: pytest.Config) -> None:
    """Open the tracer and start filing what runs per module imported (before conftest files
    load, from ``pytest_load_initial_conftests``)."""
    options = config.known_args_namespace
    stop_in_this_process()  # a pytest started by a recorded test: this session traces itself
    git_root = find_root(config.rootpath)
    root = git_root or config.rootpath
    try:
        flags = {
            "database_url": getattr(options, "greenline_db", None),
            "granularity": getattr(options, "greenline_granularity", None),
        }
        settings = load_settings(root, os.environ, flags)
        if getattr(options, "greenline_server", None):
            check_server_options(flags["database_url"])
        collector = CoverageCollector(
            root,
            settings.coverage_exclude,
            getattr(options, "greenline_tracer", None),
            settings.granularity,
        )
    except GreenlineError as exc:
        raise pytest.UsageError(f"greenline: {exc}") from None
    imports = ImportTimeRecorder(collector.tracer, collector.link_of, collector.project_path)
    config.stash[TRACING_KEY] = _Tracing(root, git_root is not None, settings, collector, imports)
    imports.start()


def register_recorder(config: pytest.Config) -> None:
    """Wire the recorder into this pytest process (xdist workers only trace)."""
    if TRACING_KEY not in config.stash:
        start_import_recording(config)
    tracing = config.stash[TRACING_KEY]
    root, settings, collector = tracing.root, tracing.settings, tracing.collector
    if collector.fall_back_if_displaced():
        tracing.imports.switch_tracer(collector.tracer)
    server = config.getoption("greenline_server")
    if not hasattr(config, "workerinput"):
        cache = getattr(config, "cache", None)  # pytest's cache dir, unless -p no:cacheprovider
        start = {
            "type": "start",
            "root": str(root),
            "db": config.getoption("greenline_db"),
            "args": mask_args(" ".join(config.invocation_params.args)),
            "pid": os.getpid(),
            "environment": asdict(read_environment()),
            "cache_dir": str(cache.mkdir("greenline")) if cache is not None else None,
            "granularity": collector.granularity,
            "server": server,  # the writer uploads to it (the token is in its environment)
            "retry_seconds": settings.server_retry_seconds,
        }
        tracer = collector.tracer.name
        if collector.granularity != "function":
            tracer += f", granularity: {collector.granularity}"
        recording = RecordingPlugin(config, StoreWriter(start), root, tracer)
        recording.fallback = collector.fallback
        where = f"the server at {server}" if server else settings.database_url
        recording.display_url = mask_url(where)
        recording.in_git = tracing.in_git
        config.pluginmanager.register(recording, "greenline-recording")
    files = FileReadTracker(root)
    files.start()
    children = SubprocessTracker(root, collector.tracer.name, collector.is_recorded)
    plugin = CoveragePlugin(collector, files, tracing.imports, children)
    plugin.trace_subprocesses = settings.trace_subprocesses
    config.pluginmanager.register(plugin, "greenline-coverage")


def check_server_options(db: object) -> None:
    """--greenline-server needs a token, and is the store: --greenline-db cannot be given too."""
    if db:
        raise GreenlineError(
            "--greenline-db and --greenline-server both name where runs go",
            hint="give one: the server keeps its own store",
        )
    if not os.environ.get("GREENLINE_TOKEN"):
        raise GreenlineError(
            "--greenline-server needs an API token in GREENLINE_TOKEN",
            hint="greenline token create ci --scope write (on the server), then export it "
            "as GREENLINE_TOKEN in the CI job",
        )


class CoveragePlugin:
    """Traces each test's setup, call and teardown, and attaches the code they ran to the
    teardown report. Only the three phases are traced, not pytest's reporting around them: on
    Python 3.11 any active hook slows every line that runs.

    A fixture of wider scope runs once, for the first test that needs it; every test that
    requests it is also linked to its function, so a change to the fixture reaches them all."""

    def __init__(
        self,
        collector: CoverageCollector,
        files: FileReadTracker,
        imports: ImportTimeRecorder,
        children: SubprocessTracker,
    ) -> None:
        self.collector = collector
        self.files = files
        self.imports = imports
        self.children = children
        #: coverage of children that ended after their test's report left (test id -> sites)
        self.late: dict[str, set[tuple[str, int]]] = {}
        self.trace_subprocesses = True
        #: what ran per module imported before the first test (see tracing.imports)
        self.import_time: dict[str, list[list[Any]]] = {}
        self.fixture_sites: dict[str, set[tuple[str, int]]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Collection is over: what ran per module imported so far is complete."""
        self.import_time = self.imports.stop()
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller stores it
            workeroutput[IMPORT_TIME_KEY] = self.import_time
        runs_tests = not session.config.pluginmanager.has_plugin("dsession")
        if runs_tests and self.trace_subprocesses:
            self.children.enable()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Children still running have a moment to end; then the environment is restored."""
        for test_id, sites in self.children.close().items():
            self.late.setdefault(test_id, set()).update(sites)
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[CHILDREN_KEY] = self.children_report()

    def children_report(self) -> dict[str, Any]:
        """What the recording process stores and says of this process's children."""
        silent = {
            t: n - self.children.reported.get(t, 0)
            for t, n in self.children.launched.items()
            if self.children.reported.get(t, 0) < n
        }
        return {
            "late": {t: [list(s) for s in sorted(sites)] for t, sites in self.late.items()},
            "untraced": [list(u) for u in self.children.untraced],
            "silent": silent,
        }

    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        code = getattr(getattr(fixturedef, "func", None), "__code__", None)
        site = self.collector.link_of(code) if code is not None else None
        if site is not None:
            self.fixture_sites.setdefault(fixturedef.argname, set()).add(site)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        self.collector.begin_test()
        self.files.begin()
        self.children.begin(item.nodeid)
        try:
            return (yield)
        finally:
            self._pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self) -> Any:
        self._resume()
        try:
            return (yield)
        finally:
            self._pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self) -> Any:
        self._resume()
        try:
            return (yield)
        finally:
            self._pause()

    def _pause(self) -> None:
        self.collector.pause()
        self.files.pause()
        self.children.pause()

    def _resume(self) -> None:
        self.collector.resume()
        self.files.resume()
        self.children.resume()

    def pytest_unconfigure(self) -> None:
        self.imports.stop()
        self.collector.close()
        self.files.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if call.when == "teardown":
            sites = set(self.collector.end_test())
            for test_id, child_sites in self.children.end().items():
                if test_id == item.nodeid:
                    sites.update(child_sites)
                else:
                    self.late.setdefault(test_id, set()).update(child_sites)
            if sites:  # a test skipped before it ran anything keeps no coverage: always judged
                for name in getattr(item, "fixturenames", ()):
                    sites.update(self.fixture_sites.get(name, ()))
            setattr(report, SITES_ATTR, [list(site) for site in sorted(sites)])
            setattr(report, FILES_ATTR, self.files.take())
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
        return clip_message(str(longrepr[2]).removeprefix("Skipped: "), MESSAGE_CHARS)
    crash = getattr(longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or (str(longrepr) if longrepr else "")
    lines = text.strip().splitlines()
    if not lines:
        return None
    # A collection error is plain text; its last "E   " line names the exception.
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return clip_message(errors[-1] if errors else lines[0], MESSAGE_CHARS)


def fold_report(
    pending: dict[str, _Pending], attempts: dict[str, int], report: pytest.TestReport
) -> _Pending:
    """The attempt a phase report belongs to (a new one after the last closed), with the
    report folded in."""
    nodeid = report.nodeid
    current = pending.get(nodeid)
    if current is None:
        current = pending[nodeid] = _Pending(attempts.get(nodeid, 0) + 1)
    current.duration += report.duration
    if str(report.outcome) == "rerun":
        # pytest-rerunfailures: this attempt failed and another follows; its teardown report
        # still comes and closes the attempt.
        current.outcome, current.phase = Outcome.FAILED, Phase(report.when or "call")
        current.message = current.message or _message(report)
    else:
        _apply(current, report)
    return current


def _apply(pending: _Pending, report: pytest.TestReport) -> None:
    """Fold one phase report into the attempt's outcome."""
    quarantined = getattr(report, "greenline_quarantined", None)
    if quarantined:  # a quarantined test's failure is stored as the failure it was
        phase = Phase(quarantined)
        pending.outcome = Outcome.FAILED if phase is Phase.CALL else Outcome.ERROR
        pending.phase = phase
        pending.message = pending.message or _message(report)
        return
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
    """Turns phase reports into results and sends them to the writer in batches.

    Trouble with the store never fails the tests: the run is left incomplete and the summary
    says why. A store that cannot be opened at all stops the session with a usage error."""

    def __init__(self, config: pytest.Config, writer: StoreWriter, root: Path, tracer: str) -> None:
        self.config = config
        self.writer = writer
        self.root = root
        self.tracer = tracer
        self.display_url = ""
        self.in_git = True
        self.fallback: str | None = None  # why the granularity asked for is not the one used
        self.pending: dict[str, _Pending] = {}
        self.attempts: dict[str, int] = {}
        self.results: list[list[Any]] = []
        self.sites: dict[str, list[list[Any]]] = {}
        self.files: dict[str, list[str]] = {}
        self.paths: dict[str, str] = {}
        self.unrecordable: list[str] = []  # why each test id that cannot be stored was left out
        self.last_flush = time.monotonic()
        #: what ran per module imported, from each xdist worker
        self.import_time: dict[str, set[tuple[str, int]]] = {}
        #: what each process said of its Python children (see CoveragePlugin.children_report)
        self.children: list[dict[str, Any]] = []

    def pytest_report_header(self) -> list[str]:
        where = "" if self.in_git else " (not a git repository: no commit info)"
        header = [f"greenline: recording into {self.display_url} (tracer: {self.tracer}){where}"]
        return header + ([f"greenline: {self.fallback}"] if self.fallback else [])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self) -> Any:
        # The writer opened the store while pytest collected; a store that cannot be used at
        # all is the user's to fix, before any test runs. A busy store or a failing writer is
        # greenline's trouble: the tests run unrecorded, and the summary says so.
        error = self.writer.wait_ready()
        if error is not None and not self.writer.unavailable:
            pytest.exit(f"greenline: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        pending = fold_report(self.pending, self.attempts, report)
        if report.when == "teardown":
            self._close(report, pending)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that fails to import is recorded as an error of the module's node id."""
        if not report.failed:
            return
        nodeid = report.nodeid or "<rootdir>"
        if not self._is_recordable(nodeid):
            return
        path = self._path(nodeid.split("::", 1)[0]) if report.nodeid else None
        self.results.append(
            [nodeid, Outcome.ERROR.value, 0.0, Phase.COLLECT.value, _message(report), 1, path]
        )

    def _close(self, report: pytest.TestReport, pending: _Pending) -> None:
        nodeid = report.nodeid
        del self.pending[nodeid]
        self.attempts[nodeid] = pending.attempt
        if not self._is_recordable(nodeid):
            return
        self.results.append(
            [
                nodeid,
                pending.outcome.value,
                round(pending.duration, 6),
                pending.phase.value if pending.phase else None,
                pending.message,
                pending.attempt,
                self._path(report.location[0]),
            ]
        )
        sites = getattr(report, SITES_ATTR, None)
        if sites:
            self.sites.setdefault(nodeid, []).extend(sites)
        files = getattr(report, FILES_ATTR, None)
        if files:
            self.files.setdefault(nodeid, []).extend(files)
        if len(self.results) >= FLUSH_RESULTS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self._flush()

    def _is_recordable(self, nodeid: str) -> bool:
        """False (noted for the summary) for an id the store refuses: the test itself still
        ran and counts in pytest's result; only its history is not kept."""
        problem = test_id_problem(nodeid)
        if problem is not None:
            self.unrecordable.append(problem)
        return problem is None

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
        if self.results:
            self.writer.send_batch(self.results, self.sites, self.files)
        self.results, self.sites, self.files = [], {}, {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """An xdist worker finished: keep what ran while it imported the project."""
        output = getattr(node, "workeroutput", {})
        self._merge_import_time(output.get(IMPORT_TIME_KEY))
        if output.get(CHILDREN_KEY):
            self.children.append(output[CHILDREN_KEY])

    def _merge_import_time(self, modules: dict[str, list[list[Any]]] | None) -> None:
        for module, sites in (modules or {}).items():
            self.import_time.setdefault(module, set()).update((p, int(n)) for p, n in sites)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self._flush()
        coverage = self.config.pluginmanager.get_plugin("greenline-coverage")
        self._merge_import_time(getattr(coverage, "import_time", None))
        if coverage is not None and not self.config.pluginmanager.has_plugin("dsession"):
            self.children.append(coverage.children_report())
        late = {
            test_id: sites
            for report in self.children
            for test_id, sites in report.get("late", {}).items()
            if self._is_recordable(test_id)
        }
        if late:  # coverage of children that ended after their test's results were sent
            self.writer.send_batch([], late, {})
        if self.import_time:
            self.writer.send_import_time(
                {m: [list(s) for s in sorted(sites)] for m, sites in self.import_time.items()}
            )
        self.writer.finish(int(exitstatus), complete=int(exitstatus) in FINISHED_EXIT_CODES)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        untraced = [tuple(u) for report in self.children for u in report.get("untraced", ())]
        if untraced:
            test_id, command = untraced[0]
            more = f" (and {len(untraced) - 1} more)" if len(untraced) > 1 else ""
            terminalreporter.write_line(
                f"greenline: {len(untraced)} Python subprocesses not traced, their coverage is "
                f"missing: {test_id} ran {command!r}{more}; -I, -E, -S or an env= without "
                "greenline's variables keeps a child from being traced",
                yellow=True,
            )
        silent = sum(n for report in self.children for n in report.get("silent", {}).values())
        if silent:
            terminalreporter.write_line(
                f"greenline: {silent} Python subprocesses left no coverage (still running at "
                "the end, killed, or greenline not importable in their environment)",
                yellow=True,
            )
        if self.unrecordable:
            terminalreporter.write_line(
                f"greenline: {len(self.unrecordable)} test results not recorded: "
                f"{self.unrecordable[0]}",
                yellow=True,
            )
        run = f"run {self.writer.run_id}"
        if self.writer.error:
            first_line = self.writer.error.splitlines()[0]
            text = (
                f"greenline: recording failed, {run} left incomplete: {first_line}"
                if self.writer.run_id
                else f"greenline: nothing recorded: {first_line}"
            )
            terminalreporter.write_line(text, yellow=True)
            return
        terminalreporter.write_line(
            f"greenline: recorded {run}: {self.writer.stored} results into {self.display_url}"
        )
