"""The local executor on real processes: output files come back, a timeout or a cancel kills
everything a job started, a log gets its output, and reaping touches only the job it names."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from greenline.executor import (
    OUT,
    Job,
    LocalExecutor,
    is_process_alive,
    pytest_job,
    shell_job,
)


def test_a_job_hands_back_what_it_wrote_to_its_output_directory(tmp_path: Path) -> None:
    script = "import pathlib, sys; pathlib.Path(sys.argv[1], 'a.txt').write_text('hi')"
    result = LocalExecutor().run(Job(("{python}", "-c", script, OUT), tmp_path))
    assert result.exit_code == 0 and result.text("a.txt") == "hi"
    assert result.text("missing.txt") == ""
    assert not any(Path(d).name.startswith("greenline-job-") for d in os.listdir(tmp_path))


def test_a_timeout_kills_the_job_and_what_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    job = Job(("sh", "-c", f"sleep 60 & echo $! > {pids}; wait"), tmp_path, timeout=0.5)
    start = time.monotonic()
    result = LocalExecutor().run(job)
    assert result.exit_code is None and time.monotonic() - start < 10
    time.sleep(0.2)
    assert not is_process_alive(int(pids.read_text()))


def test_a_started_job_is_polled_and_cancelled(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "check.log"
    handle = LocalExecutor().start(shell_job("echo started; sleep 60", tmp_path, {}, log))
    assert handle.poll() is None
    time.sleep(0.3)
    handle.cancel()
    result = handle.poll()
    assert result is not None and result.exit_code is None
    assert log.read_text() == "started\n"


def test_reap_kills_only_the_process_it_names(tmp_path: Path) -> None:
    executor = LocalExecutor()
    handle = executor.start(shell_job("sleep 60", tmp_path, {}, tmp_path / "log"))
    pid, _, started = handle.ident.partition(":")
    assert executor.reap([f"{pid}:{int(started) + 1}"]) == 0, "a reused pid is left alone"
    assert is_process_alive(int(pid))
    assert executor.reap([handle.ident, "garbage"]) == 1
    assert handle.wait().exit_code == -9


def test_concurrently_keeps_the_order_of_its_items() -> None:
    def slow_square(n: int) -> int:
        time.sleep(0.05 * (5 - n))
        return n * n

    assert list(LocalExecutor().concurrently(slow_square, range(5), 3)) == [0, 1, 4, 9, 16]


def test_a_pytest_job_runs_greenlines_plugin_in_this_interpreter(pytester) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(test_a="def test_ok():\n    pass\n")
    job = pytest_job(f"--greenline-outcomes={OUT}/o.jsonl", cwd=pytester.path, timeout=120)
    result = LocalExecutor().run(job)
    assert result.exit_code == 0, sys.executable
    assert '"test_a.py::test_ok"' in result.text("o.jsonl")
