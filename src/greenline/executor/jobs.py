"""What the executor runs: a job (a command or a pytest invocation in a tree, with an
environment) and what comes back when it ends; the interface every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: In a job's argv, replaced by the interpreter the backend runs Python with.
PYTHON = "{python}"
#: In a job's argv, replaced by a fresh directory whose files come back in the result.
OUT = "{out}"
#: In a job's argv, replaced by a directory holding the job's ``inputs`` (written where the
#: job runs, so the caller needs no file system in common with it).
IN = "{in}"


class Output(Enum):
    """Where a job's own output goes."""

    INHERIT = "inherit"  # the caller's terminal (an interactive run the user watches)
    DISCARD = "discard"
    LOG = "log"  # a log file (``Job.log``), stdout and stderr together


@dataclass(frozen=True, slots=True)
class Job:
    """A command to run in ``cwd``. ``argv`` may name ``{python}``, ``{out}`` and ``{in}``: the
    backend substitutes its interpreter, an output directory whose files it hands back, and a
    directory with the job's ``inputs`` in it, so the caller never needs to share a file system
    with where the job ran."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds; then the job and all it started are killed
    output: Output = Output.DISCARD
    log: Path | None = None
    #: files (by name) written into ``{in}`` before the job starts
    inputs: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def collects(self) -> bool:
        return any(OUT in arg for arg in self.argv)

    @property
    def takes_inputs(self) -> bool:
        return bool(self.inputs) or any(IN in arg for arg in self.argv)


def pytest_job(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    inputs: Mapping[str, bytes] | None = None,
) -> Job:
    """A quiet pytest run with greenline's plugin named explicitly (so its options work even
    where ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` turns plugin discovery off)."""
    argv = (PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "greenline", *args)
    return Job(argv, cwd, env or {}, timeout, inputs=inputs or {})


def shell_job(
    command: str, cwd: Path, env: Mapping[str, str], log: Path, timeout: float | None = None
) -> Job:
    """A shell command line (a merge-queue check), its output to ``log``."""
    return Job(("sh", "-c", command), cwd, env, timeout, output=Output.LOG, log=log)


@dataclass(frozen=True, slots=True)
class JobResult:
    #: the exit code; None when the job was killed (its timeout, or cancelled)
    exit_code: int | None
    seconds: float
    #: the files the job wrote to ``{out}``, by name
    files: Mapping[str, bytes] = field(default_factory=dict)
    pid: int | None = None  # local jobs: the process id (the recorder finds its run by it)
    #: why there is no exit code, when the backend knows (its worker died, say)
    error: str | None = None

    def text(self, name: str) -> str:
        """One collected file as text ('' if the job did not write it)."""
        return self.files.get(name, b"").decode("utf-8", errors="replace")


class Handle(Protocol):
    """A job that was started; polled, waited on or cancelled."""

    #: names the job's processes for a later ``Executor.reap`` (after the caller died)
    ident: str

    def poll(self) -> JobResult | None:
        """The result once the job has ended (past its timeout it is killed first)."""
        ...

    def wait(self) -> JobResult: ...

    def cancel(self) -> None: ...


class Executor(Protocol):
    """Where jobs run. Capability code talks to this interface only, never to a backend."""

    name: str

    def start(self, job: Job) -> Handle: ...

    def run(self, job: Job) -> JobResult: ...

    def concurrently(self, work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
        """``work`` on each item, up to ``workers`` at once, results in the items' order.
        ``work`` runs on the caller's side and may start jobs of its own."""
        ...

    def reap(self, idents: Iterable[str]) -> int:
        """Kill what is left of jobs a dead caller started; how many were still running."""
        ...
