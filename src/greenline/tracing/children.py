"""Coverage of the Python subprocesses a test starts (``subprocess``, ``os.exec*``,
``multiprocessing`` spawn): the code a test runs through ``python -m yourpkg`` is the test's.

While recording, the process that runs tests puts a directory in front of ``PYTHONPATH`` holding
a ``sitecustomize.py`` (the one already on the path, if any, still runs after it) and names the
directory and the repository in the environment. Every Python process started from there on
inherits both, traces the project's code from its start, and at its end (``atexit``, before an
``os.exec*``, on SIGTERM) writes what it ran to a file in the directory, with the instant it
started. The recording process files each child's coverage under the test that was running when
the child started.

A Python child that cannot be traced (started with ``-I``, ``-E`` or ``-S``, or with an
environment of its own without greenline's variables) is noted from the audit hook on process
creation, so the run's summary can name it. This module imports only the standard library and
the tracers: it runs at the start of every such child.
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from greenline.tracing import audit
from greenline.tracing.tracers import FOREIGN_FRAGMENTS, Tracer, make_tracer

#: bound at import: a test may replace ``json.dumps``/``json.loads`` (greenline still writes)
_dumps = json.dumps
_loads = json.loads

DIR_ENV = "GREENLINE_SUBPROCESS_DIR"
ROOT_ENV = "GREENLINE_SUBPROCESS_ROOT"
TRACER_ENV = "GREENLINE_SUBPROCESS_TRACER"
#: One clock for every process on the machine, bound before a test can freeze ``time``.
_now = time.monotonic
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)*)?[a-z]?(\.exe)?$", re.IGNORECASE)

SITECUSTOMIZE = '''\
"""Written by greenline while it records a test session: traces this Python process for the
test that started it, then runs the sitecustomize this one stands in front of, if any."""


def _greenline_start():
    import importlib.machinery
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        from greenline.tracing.children import start_in_child

        start_in_child()
    except Exception:
        pass
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


_greenline_start()
del _greenline_start
'''


# -- in the child ---------------------------------------------------------------------------


class _ChildRecording:
    """This process's tracer and where its coverage goes."""

    def __init__(self, tracer: Tracer, out_dir: str, root: str) -> None:
        self.tracer = tracer
        self.out_dir = out_dir
        self.root = root
        self.prefixes = tuple({root + os.sep, os.path.realpath(root) + os.sep})
        self.cwd = str(Path.cwd())
        self.started = _now()
        self.done = False
        self.writing = False
        #: a SIGTERM came while the file was being written: honoured once it is whole
        self.terminated = False

    def flush(self) -> None:
        """Write what ran (once): at exit, before an exec, on SIGTERM. A SIGTERM arriving while
        the file is written (a pool worker ending by itself as its parent terminates it) waits
        until the file is whole."""
        if self.done:
            return
        self.done = True
        self.writing = True
        blocked = _block_sigterm()
        try:
            self._write()
        finally:
            self.writing = False
            if blocked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        if self.terminated:
            _terminate()

    def _write(self) -> None:
        codes = self.tracer.take()
        with contextlib.suppress(Exception):
            self.tracer.close()
        sites = sorted({site for code in codes if (site := self._site(code)) is not None})
        doc = {
            "started": self.started,
            "pid": os.getpid(),
            "argv": [str(a)[:200] for a in sys.argv[:6]],
            "sites": [list(site) for site in sites],
        }
        name = f"child-{os.getpid()}-{time.time_ns()}.json"
        tmp = Path(self.out_dir, name + ".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(_dumps(doc), encoding="utf-8")
            tmp.replace(Path(self.out_dir, name))

    def _site(self, code: Any) -> tuple[str, int] | None:
        name = code.co_filename
        if not name.endswith(".py"):
            return None
        if not os.path.isabs(name):  # noqa: PTH117
            name = os.path.normpath(os.path.join(self.cwd, name))  # noqa: PTH118
        prefix = next((p for p in self.prefixes if name.startswith(p)), None)
        if prefix is None or any(f in name for f in FOREIGN_FRAGMENTS):
            return None
        # a whole function (negative: see collector.CodeSite), or 0 for the module's own code
        line = 0 if code.co_name == "<module>" else -code.co_firstlineno
        return name[len(prefix) :].replace(os.sep, "/"), line


_active: _ChildRecording | None = None


def _block_sigterm() -> bool:
    """Hold SIGTERM back in this thread (where the platform can); whether it was."""
    if not hasattr(signal, "pthread_sigmask"):
        return False
    try:
        return signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (OSError, ValueError):
        return False


def start_in_child() -> None:
    """Trace this process if it was started from a recording test session."""
    global _active
    out_dir, root = os.environ.get(DIR_ENV), os.environ.get(ROOT_ENV)
    if not out_dir or not root or _active is not None or not Path(out_dir).is_dir():
        return
    prefixes = tuple({root + os.sep, os.path.realpath(root) + os.sep})
    tracer = make_tracer(prefixes, FOREIGN_FRAGMENTS, os.environ.get(TRACER_ENV) or None)
    recording = _active = _ChildRecording(tracer, out_dir, root)
    atexit.register(recording.flush)
    audit.listen(("os.exec",), _before_exec)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    tracer.begin()


def stop_in_this_process() -> None:
    """A recording session starting in a traced child owns the tracer from now on: what the
    child traced so far is written first."""
    global _active
    if _active is not None:
        _active.flush()
        _active = None


def _before_exec(_event: str, _args: tuple[Any, ...]) -> None:
    if _active is not None:
        _active.flush()


def _on_sigterm(_signum: int, _frame: Any) -> None:
    recording = _active
    if recording is not None and recording.writing:
        recording.terminated = True  # the handler ran between two steps of the write
        return
    if recording is not None:
        recording.flush()
    _terminate()


def _terminate() -> None:
    """End this process the way an unhandled SIGTERM would."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


# -- in the recording process ---------------------------------------------------------------


def _launch(event: str, args: tuple[Any, ...]) -> tuple[Any, Any, Any] | None:
    """(executable, argv, env) of a process creation event."""
    if event == "subprocess.Popen":
        return args[0], args[1], args[3]
    if event in ("os.exec", "os.posix_spawn"):
        return args[0], args[1], args[2]
    if event == "os.spawn":
        return args[1], args[2], args[3]
    return None


def _isolated(argv: list[str]) -> bool:
    """Whether the interpreter flags keep it from reading the environment or running site."""
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-c", "-m") or not arg.startswith("-") or arg == "-":
            return False
        if arg.startswith("--"):
            continue
        letters = re.match(r"[A-Za-z]*", arg[1:]).group()  # type: ignore[union-attr]
        if any(ch in "IES" for ch in re.split("[cm]", letters, maxsplit=1)[0]):
            return True
        skip = letters[-1:] in ("W", "X")  # their value follows
    return False


class SubprocessTracker:
    """Files the coverage of Python children under the test that started them."""

    def __init__(
        self, root: Path, tracer: str | None, keep: Callable[[str], bool] = lambda _p: True
    ) -> None:
        self.root = root
        self.tracer = tracer
        self.keep = keep
        self.dir: Path | None = None
        self.active = False
        self.current: str | None = None
        self._starts: list[float] = []
        self._tests: list[str] = []
        self._saved: dict[str, str | None] = {}
        #: per test id: Python children started whose environment keeps them from being traced
        self.untraced: list[tuple[str, str]] = []
        #: per test id: children that could be traced, and how many left coverage
        self.launched: dict[str, int] = {}
        self.reported: dict[str, int] = {}
        #: the folder's modification time when it was last read (see ``_harvest``)
        self._read_at_mtime: int | None = None

    def enable(self) -> None:
        """From now on, Python processes started here are traced (sets the environment)."""
        global _tracker
        self.dir = Path(tempfile.mkdtemp(prefix="greenline-children-"))
        (self.dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        path = os.environ.get("PYTHONPATH")
        values = {
            DIR_ENV: str(self.dir),
            ROOT_ENV: str(self.root),
            TRACER_ENV: self.tracer or "",
            "PYTHONPATH": str(self.dir) + (os.pathsep + path if path else ""),
        }
        for key, value in values.items():
            self._saved[key] = os.environ.get(key)
            os.environ[key] = value
        _tracker = self
        _install_hook()

    def begin(self, test_id: str) -> None:
        self.current = test_id
        self._starts.append(_now())
        self._tests.append(test_id)
        self.active = True

    def pause(self) -> None:
        self.active = False

    def resume(self) -> None:
        self.active = True

    def end(self) -> dict[str, set[tuple[str, int]]]:
        """What the children that ended so far ran, per test that started them."""
        self.active = False
        return self._harvest()

    def close(self, grace: float = 1.0) -> dict[str, set[tuple[str, int]]]:
        """Restore the environment; what children still running after ``grace`` seconds ran
        is lost."""
        global _tracker
        if self.dir is None:
            return {}
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if _tracker is self:
            _tracker = None
        deadline = _now() + grace
        found = self._harvest(every=True)
        while self._missing() and _now() < deadline:
            time.sleep(0.05)
            for test_id, sites in self._harvest(every=True).items():
                found.setdefault(test_id, set()).update(sites)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        return found

    def _missing(self) -> bool:
        return any(self.reported.get(t, 0) < n for t, n in self.launched.items())

    def note(self, launch: tuple[Any, Any, Any]) -> None:
        """A process creation in a test: remember Python children that cannot be traced."""
        executable, argv, env = launch
        try:
            args = [os.fsdecode(a) for a in (argv or [])]
            program = os.fsdecode(executable) if executable is not None else args[0]
        except (TypeError, IndexError):
            return
        base = Path(program).name
        if not (_PYTHON_NAME.match(base) or program == sys.executable):
            return
        test_id = self.current or "?"
        blocked = env is not None and not self._inherits(env)
        if blocked or _isolated(args):
            command = " ".join(args)[:120] or program
            self.untraced.append((test_id, command))
        else:
            self.launched[test_id] = self.launched.get(test_id, 0) + 1

    def _inherits(self, env: Any) -> bool:
        """Whether an environment given to a child still carries greenline's variables."""
        if not hasattr(env, "get"):
            return True  # not a mapping: cannot tell, so assume it does
        ours = str(self.dir)
        value = env.get(DIR_ENV) or env.get(DIR_ENV.encode())
        path = env.get("PYTHONPATH") or env.get(b"PYTHONPATH") or ""
        return os.fsdecode(value or "") == ours and ours in os.fsdecode(path)

    def _harvest(self, *, every: bool = False) -> dict[str, set[tuple[str, int]]]:
        """The coverage children left in the folder, per test that started them (the files
        read are removed). The folder is read only when it changed since it was last read
        (its modification time moved), or changed a moment ago: a file written in the same
        tick of the file system's clock as the last read leaves the time as it was. Unless
        ``every``, a file is filed late at worst (by its start time, under the right test)."""
        found: dict[str, set[tuple[str, int]]] = {}
        if self.dir is None:
            return found
        try:
            mtime = self.dir.stat().st_mtime_ns
        except OSError:
            return found
        recent = time.time_ns() - mtime < RECENT_NS
        if not every and not recent and mtime == self._read_at_mtime:
            return found
        self._read_at_mtime = mtime
        try:
            entries = [e for e in os.scandir(self.dir) if e.name.endswith(".json")]
        except OSError:
            return found
        for entry in entries:
            try:
                doc = _loads(Path(entry.path).read_text(encoding="utf-8"))
                Path(entry.path).unlink()
            except (OSError, ValueError):
                continue
            test_id = self._started_in(float(doc.get("started", 0.0)))
            if test_id is None:
                continue
            self.reported[test_id] = self.reported.get(test_id, 0) + 1
            bucket = found.setdefault(test_id, set())
            for path, line in doc.get("sites", ()):
                if isinstance(path, str) and isinstance(line, int) and self.keep(path):
                    bucket.add((path, line))
        return found

    def _started_in(self, instant: float) -> str | None:
        """The test that was running (or last began) when a child started."""
        index = bisect.bisect_right(self._starts, instant) - 1
        return self._tests[index] if index >= 0 else None


_tracker: SubprocessTracker | None = None
_hooked = False


#: how long after the children's folder last changed it is read anyway (nanoseconds): longer
#: than a tick of any file system's clock
RECENT_NS = 200_000_000

#: the audit events of a process creation (``_launch`` reads their arguments)
LAUNCH_EVENTS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn")


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    tracker = _tracker
    if tracker is None or not tracker.active:
        return
    launch = _launch(event, args)
    if launch is not None:
        tracker.note(launch)


def _install_hook() -> None:
    global _hooked
    if not _hooked:
        audit.listen(LAUNCH_EVENTS, _on_audit)
        _hooked = True
