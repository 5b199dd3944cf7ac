"""Runs a command as a local child process, passing its output through and keeping its pid."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int
    pid: int


def run_command(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> CommandResult:
    """Run ``argv`` to completion with inherited stdio; Ctrl-C reaches the child first."""
    merged = {**os.environ, **(env or {})}
    with subprocess.Popen(list(argv), cwd=cwd, env=merged) as proc:
        if on_start:
            on_start(proc.pid)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            code = proc.wait()
    return CommandResult(exit_code=code, pid=proc.pid)


def run_quiet(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int | None:
    """Run ``argv`` with its output discarded; its exit code, or None when it timed out (the
    whole process group is killed, so nothing it started lingers)."""
    merged = {**os.environ, **(env or {})}
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=merged,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return None


class Background:
    """A shell command running in its own process group, output to a log file; polled, not
    waited on, so one loop can watch many (the merge queue's checks)."""

    def __init__(self, command: str, cwd: Path, log: Path, env: Mapping[str, str] | None = None):
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["sh", "-c", command],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def poll(self) -> int | None:
        """The exit code once it has ended, else None."""
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait()


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
