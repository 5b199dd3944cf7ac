"""Where jobs run: every test run or command greenline starts goes through an ``Executor``
(local processes by default; a distributed backend implements the same interface)."""

from __future__ import annotations

from greenline.executor.jobs import (
    IN,
    OUT,
    Executor,
    Handle,
    Job,
    JobResult,
    Output,
    pytest_job,
    shell_job,
)
from greenline.executor.local import LocalExecutor, is_process_alive


def default_executor() -> Executor:
    return LocalExecutor()


__all__ = [
    "IN",
    "OUT",
    "Executor",
    "Handle",
    "Job",
    "JobResult",
    "LocalExecutor",
    "Output",
    "default_executor",
    "is_process_alive",
    "pytest_job",
    "shell_job",
]
