"""The local backend: jobs as child processes of this machine, each in its own process group
(a timeout or a cancel kills everything it started), side-by-side work on a thread pool.

The thread pool and temporary folders load with the first job that needs them: every command
makes an executor, and most (``greenline runs``, ``select``) start no job.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from greenline.executor.jobs import IN, OUT, PYTHON, Job, JobResult, Output

T = TypeVar("T")
R = TypeVar("R")


class LocalHandle:
    """One job running as a local process; with ``die_with_parent`` (Linux) it is killed when
    the process that started it dies (a remote worker's job must not outlive the worker)."""

    def __init__(self, job: Job, *, die_with_parent: bool = False) -> None:
        import tempfile

        self.job = job
        self.out = Path(tempfile.mkdtemp(prefix="greenline-job-")) if job.collects else None
        self.inputs = _write_inputs(job) if job.takes_inputs else None
        argv = [self._substitute(a) for a in job.argv]
        self.started = time.monotonic()
        self.deadline = self.started + job.timeout if job.timeout else None
        self.result: JobResult | None = None
        log: IO[bytes] | None = None
        if job.output is Output.LOG and job.log is not None:
            job.log.parent.mkdir(parents=True, exist_ok=True)
            log = job.log.open("wb")
        quiet = job.output is not Output.INHERIT
        sink: IO[bytes] | int | None = log or (subprocess.DEVNULL if quiet else None)
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=job.cwd,
                env={**os.environ, **job.env},
                stdin=subprocess.DEVNULL if quiet else None,
                stdout=sink,
                stderr=subprocess.STDOUT if log else sink,
                # an interactive run stays in the terminal's group, so Ctrl-C reaches it
                start_new_session=quiet,
                preexec_fn=_kill_with_parent if die_with_parent else None,
            )
        finally:
            if log is not None:
                log.close()
        self.ident = f"{self.proc.pid}:{process_start_time(self.proc.pid)}"

    def _substitute(self, arg: str) -> str:
        arg = sys.executable if arg == PYTHON else arg
        if self.inputs is not None:
            arg = arg.replace(IN, str(self.inputs))
        return arg.replace(OUT, str(self.out)) if self.out is not None else arg

    def poll(self) -> JobResult | None:
        if self.result is not None:
            return self.result
        code = self.proc.poll()
        if code is None and self.deadline is not None and time.monotonic() > self.deadline:
            self._kill()
            return self._finish(None)
        return None if code is None else self._finish(code)

    def wait(self) -> JobResult:
        if self.result is not None:
            return self.result
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        try:
            return self._finish(self.proc.wait(timeout=remaining))
        except subprocess.TimeoutExpired:
            self._kill()
            return self._finish(None)
        except KeyboardInterrupt:
            # the child saw the same Ctrl-C (it shares the terminal): let it end its own way
            return self._finish(self.proc.wait())

    def cancel(self) -> None:
        if self.result is None:
            self._kill()
            self._finish(None)

    def _kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if self.job.output is Output.INHERIT:
                    self.proc.kill()
                else:
                    os.killpg(self.proc.pid, 9)
        self.proc.wait()

    def _finish(self, code: int | None) -> JobResult:
        files: dict[str, bytes] = {}
        if self.out is not None:
            for path in sorted(self.out.iterdir()):
                if path.is_file():
                    files[path.name] = path.read_bytes()
            shutil.rmtree(self.out, ignore_errors=True)
        if self.inputs is not None:
            shutil.rmtree(self.inputs, ignore_errors=True)
        seconds = time.monotonic() - self.started
        self.result = JobResult(code, seconds, files, self.proc.pid)
        return self.result


class LocalExecutor:
    """Runs jobs on this machine."""

    name = "local"

    def start(self, job: Job) -> LocalHandle:
        return LocalHandle(job)

    def run(self, job: Job) -> JobResult:
        return LocalHandle(job).wait()

    def concurrently(self, work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
        items = list(items)
        if workers <= 1 or len(items) <= 1:
            yield from map(work, items)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(work, items)

    def reap(self, idents: Iterable[str]) -> int:
        """Kill the process groups of jobs whose starter died, if still the same processes
        (a pid alone may have been reused since: its start time must match too)."""
        killed = 0
        for ident in idents:
            pid_text, _, started = ident.partition(":")
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if is_process_alive(pid) and process_start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, 9)
                    killed += 1
        return killed


def _write_inputs(job: Job) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="greenline-in-"))
    for name, data in job.inputs.items():
        (folder / Path(name).name).write_bytes(data)
    return folder


def _kill_with_parent() -> None:
    """In the child, before it runs the job: SIGKILL when the parent dies (prctl, Linux).
    Nothing is imported here: after a fork only what is loaded already is safe to use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def process_start_time(pid: int) -> str:
    """When ``pid`` started, in clock ticks since boot ('' where /proc cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def is_process_alive(pid: int) -> bool:
    """True while ``pid`` runs here (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
