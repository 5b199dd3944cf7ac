"""The store writer: a child process that stores what a recording pytest session reports.

pytest only traces and forwards; the writer imports the database layer, opens the store, maps
code sites to fingerprinted blocks and writes, on another core while the tests run. If pytest
dies (even ``kill -9``) the writer sees its input end without a ``finish`` and leaves the run
``incomplete``.

Protocol, JSON lines. pytest -> writer: ``start`` (once), ``batch`` (results and code sites),
``import_time`` (code sites per module imported before the first test), ``finish``. writer ->
pytest: ``ready`` (with the run id) or ``error`` (the user's to fix: a bad URL, a newer schema)
or ``trouble`` (greenline's own: a store locked by another writer, a bug); then ``done`` or
either failure. Only an ``error`` before ``ready`` stops the session.
With ``server`` in ``start`` (``--greenline-server``) the writer opens no store: it sends the
run to the team server (``upload.py``), with the same protocol towards pytest.
This module imports only the standard library at the top, because pytest imports it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: bound at import: a test may replace ``json.dumps``/``json.loads`` (greenline still writes)
_dumps = json.dumps
_loads = json.loads

READY_SECONDS = 120.0
FINISH_SECONDS = 600.0


class StoreWriter:
    """pytest's handle on the writer process."""

    def __init__(self, start: dict[str, Any]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "greenline.pytest_plugin.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, name="greenline-writer-reader", daemon=True).start()
        self.run_id: int | None = None
        self.stored = 0
        self.error: str | None = None
        #: The store was there but busy (or silent): greenline's trouble, so the tests run.
        self.unavailable = False
        self._ready = False
        self._send(start)

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self._messages.put(_loads(line))
            except ValueError:
                continue
        self._messages.put({"type": "eof"})

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return {
                "type": "timeout",
                "message": f"the store writer gave no answer in {timeout:.0f}s",
            }

    def _absorb(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ready":
            self.run_id = int(message["run_id"])
        elif kind == "done":
            self.stored = int(message.get("results", 0))
        elif kind in ("error", "trouble", "timeout"):
            self.error = self.error or _error_text(message)
            self.unavailable = self.unavailable or kind != "error"
        elif kind == "eof" and self.error is None and not self._ready:
            self.error = "the store writer exited before it was ready"
            self.unavailable = True

    def _send(self, message: dict[str, Any]) -> None:
        if self.error is not None or self._proc.stdin is None:
            return
        try:
            self._proc.stdin.write(_dumps(message, separators=(",", ":")) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.wait_ready()
            self.error = self.error or "the store writer stopped unexpectedly"

    def wait_ready(self) -> str | None:
        """Block until the writer has opened the store and created the run; its error, if any."""
        if not self._ready:
            self._absorb(self._next(READY_SECONDS))
            self._ready = True
        return self.error

    def send_batch(
        self,
        results: list[list[Any]],
        sites: dict[str, list[list[Any]]],
        files: dict[str, list[str]],
    ) -> None:
        self._send({"type": "batch", "results": results, "sites": sites, "files": files})

    def send_import_time(self, modules: dict[str, list[list[Any]]]) -> None:
        """What ran per project module imported before the first test."""
        self._send({"type": "import_time", "modules": modules})

    def finish(self, exit_status: int, complete: bool) -> None:
        """Tell the writer the session ended, and wait until everything is stored."""
        self._send({"type": "finish", "exit_status": exit_status, "complete": complete})
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self.wait_ready()
        while True:
            message = self._next(FINISH_SECONDS)
            self._absorb(message)
            if message.get("type") in ("done", "eof", "timeout"):
                break
        try:
            self._proc.wait(timeout=FINISH_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.error = self.error or "the store writer did not finish in time"


def _error_text(message: dict[str, Any]) -> str:
    text = str(message.get("message", "unknown error"))
    return f"{text}\nHint: {message['hint']}" if message.get("hint") else text


# -- the child process ---------------------------------------------------------------------


class _Child:
    """The writer's side: owns the store connection for one run."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.stored = 0

    def emit(self, **message: Any) -> None:
        self.out.write(_dumps(message) + "\n")
        self.out.flush()

    def serve(self, lines: IO[str]) -> int:
        from greenline.errors import GreenlineError, StoreBusyError

        first = lines.readline()
        if not first:
            return 2
        start = _loads(first)
        if start.get("server"):  # the team server stores the run: this process only sends it
            from greenline.pytest_plugin.upload import UploadChild

            return UploadChild(self.emit).serve(start, lines)
        try:
            gl, run_id, mapper = self._open(start)
        except GreenlineError as exc:
            kind = "trouble" if isinstance(exc, StoreBusyError) else "error"
            self.emit(type=kind, message=exc.message, hint=exc.hint)
            return exc.exit_code
        self.emit(type="ready", run_id=run_id)
        _quietly(
            gl.selection.note_affected_tests, run_id
        )  # ranking's examples, while pytest collects
        finish, failure = self._consume(lines, gl, run_id, mapper)
        complete = bool(finish and finish.get("complete")) and failure is None
        try:
            gl.runs.finish_run(
                run_id, finish.get("exit_status") if finish else None, complete=complete
            )
        except GreenlineError as exc:
            failure = failure or exc
        if complete and failure is None:
            _quietly(gl.selection.learn_ranking, only_if_grown=0.25)
            _quietly(gl.flaky.release_recovered)
        mapper.close()
        gl.close()
        if failure is not None:
            self.emit(type="error", message=str(failure).splitlines()[0])
        self.emit(type="done", run_id=run_id, results=self.stored)
        return 0

    def _open(self, start: dict[str, Any]) -> tuple[Any, int, Any]:
        from greenline.api import Greenline
        from greenline.model import Environment
        from greenline.tracing import BlockMapper
        from greenline.tracing.cache import FingerprintCache

        root = Path(start["root"])
        gl = Greenline.open(root, db=start.get("db"))
        try:
            run_id = gl.runs.start_run(
                "pytest",
                args=start.get("args"),
                environment=Environment(**start["environment"]),
                pid=start.get("pid"),
            )
        except BaseException:
            gl.close()
            raise
        cache_dir = start.get("cache_dir")
        cache = FingerprintCache(Path(cache_dir)) if cache_dir else None
        return gl, run_id, BlockMapper(root, cache, start.get("granularity", "function"))

    def _consume(
        self, lines: IO[str], gl: Any, run_id: int, mapper: Any
    ) -> tuple[dict[str, Any] | None, Exception | None]:
        """Store every batch until ``finish`` (returned) or the end of input (pytest died)."""
        from greenline.errors import GreenlineError

        failure: Exception | None = None
        for line in lines:
            try:
                message = _loads(line)
            except ValueError:  # a line cut short when pytest was interrupted mid-write
                continue
            if message.get("type") == "finish":
                return message, failure
            kind = message.get("type")
            if kind not in ("batch", "import_time") or failure is not None:
                continue  # after a failure, keep reading so pytest is never blocked
            try:
                if kind == "import_time":
                    gl.runs.add_import_time(run_id, decode_import_time(message, mapper))
                else:
                    self._store(message, gl, run_id, mapper)
            except GreenlineError as exc:
                failure = exc
        return None, failure

    def _store(self, message: dict[str, Any], gl: Any, run_id: int, mapper: Any) -> None:
        results, coverage, files = decode_batch(message, mapper)
        gl.runs.add_results(run_id, results, coverage, files)
        self.stored += len(results)


def decode_batch(message: dict[str, Any], mapper: Any) -> tuple[list[Any], dict[str, Any], Any]:
    """A ``batch`` message as results, each test's blocks (its code sites mapped) and the
    files each test read."""
    from greenline.model import Outcome, Phase, TestResult

    results = [
        TestResult(
            test_id,
            Outcome(outcome),
            duration,
            Phase(phase) if phase else None,
            text,
            attempt,
            path,
        )
        for test_id, outcome, duration, phase, text, attempt, path in message["results"]
    ]
    coverage = {
        test_id: mapper.blocks_of((path, line) for path, line in sites)
        for test_id, sites in message["sites"].items()
    }
    return results, coverage, message.get("files") or {}


def decode_import_time(message: dict[str, Any], mapper: Any) -> dict[str, Any]:
    """An ``import_time`` message as the blocks that ran per module imported."""
    return {
        module: mapper.blocks_of(((p, n) for p, n in sites), with_modules=False)
        for module, sites in message["modules"].items()
    }


def _quietly(step: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Learning the ranking is a bonus: no trouble of it may cost the run its results."""
    with contextlib.suppress(Exception):
        step(*args, **kwargs)


def main() -> int:
    # Ctrl-C reaches the whole process group: it is the user stopping pytest, which then sends
    # ``finish`` for what ran; the writer must live to store it, not die of the interrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the protocol may reach pytest
    child = _Child(out)
    try:
        return child.serve(sys.stdin)
    except Exception as exc:  # a bug of ours: pytest reports it; the tests are unaffected
        child.emit(type="trouble", message=f"internal error in the store writer: {exc!r}")
        return 3


if __name__ == "__main__":
    sys.exit(main())
