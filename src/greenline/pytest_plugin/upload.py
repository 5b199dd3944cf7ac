"""The store writer's server mode (``--greenline-server URL``): instead of opening a store, the
writer process sends the run to the team server, batch by batch, gzip-compressed, each batch
tried again with backoff until the server acknowledges it (a resent batch is stored once).

It needs only httpx and the tracer's block mapping: no database layer. pytest's messages are
read on a thread of their own while a batch is being sent or retried, so a slow or restarting
server never holds up the tests. A server that does not answer within the retry time leaves the
run incomplete (pytest's summary says so in one line); the tests are unaffected.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from greenline.pytest_plugin.writer import decode_batch, decode_import_time

#: bound at import: a test may replace ``json.dumps``/``json.loads`` (greenline still writes)
_loads = json.loads

#: the most results one request carries: pytest's batches that queued up while one was being
#: sent go together in the next
UPLOAD_RESULTS = 2000
#: a server that is down when the session starts is given this long (at most) before the tests
#: run unrecorded: the tests should not wait for the whole retry time
START_SECONDS = 10.0


def _read_lines(lines: IO[str], inbox: queue.Queue[dict[str, Any] | None]) -> None:
    for line in lines:
        try:
            inbox.put(_loads(line))
        except ValueError:  # a line cut short when pytest was interrupted mid-write
            continue
    inbox.put(None)


class UploadChild:
    """Sends one pytest session's run to the server; ``emit`` answers pytest."""

    def __init__(self, emit: Callable[..., None]) -> None:
        self.emit = emit
        self.stored = 0
        self._held: dict[str, Any] | None = None

    def serve(self, start: dict[str, Any], lines: IO[str]) -> int:
        from greenline.errors import GreenlineError

        retry = float(start.get("retry_seconds") or 30.0)
        inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=_read_lines, args=(lines, inbox), daemon=True).start()
        try:
            upload = self._start(start, retry)
        except GreenlineError as exc:
            return exc.exit_code
        if upload is None:
            return 0
        self.emit(type="ready", run_id=upload.run_id)
        finish, failure = self._send_all(inbox, upload, self._mapper(start))
        complete = bool(finish and finish.get("complete")) and failure is None
        try:  # a server that stopped answering gets one try: it is told, if it can hear
            upload.finish(
                finish.get("exit_status") if finish else None,
                complete=complete,
                retry_seconds=retry if failure is None else 0.0,
            )
        except GreenlineError as exc:
            failure = failure or exc
        upload.client.close()
        if failure is not None:
            self.emit(type="error", message=str(failure).splitlines()[0])
        self.emit(type="done", run_id=upload.run_id, results=self.stored)
        return 0

    def _start(self, start: dict[str, Any], retry: float) -> Any:
        """The upload, its run started; None (said to pytest) when the server is down or
        failing, so the tests run unrecorded. A refusal (a token, say) is the user's: raised,
        after pytest was told."""
        from greenline import vcs
        from greenline.errors import GreenlineError, ServerUnavailableError
        from greenline.model import Environment
        from greenline.remote import TOKEN_ENV, RunUpload, ServerClient

        try:
            client = ServerClient(start["server"], os.environ.get(TOKEN_ENV), retry_seconds=retry)
        except GreenlineError as exc:
            self.emit(type="error", message=exc.message, hint=exc.hint)
            raise
        upload = RunUpload(client)
        try:
            upload.start(
                vcs.read_commit(Path(start["root"])),
                Environment(**start["environment"]),
                args=start.get("args"),
                hostname=socket.gethostname(),
                pid=start.get("pid"),
                retry_seconds=min(retry, START_SECONDS),
            )
        except GreenlineError as exc:
            client.close()
            unavailable = isinstance(exc, ServerUnavailableError)
            self.emit(
                type="trouble" if unavailable else "error", message=exc.message, hint=exc.hint
            )
            if unavailable:
                return None
            raise
        return upload

    @staticmethod
    def _mapper(start: dict[str, Any]) -> Any:
        from greenline.tracing import BlockMapper
        from greenline.tracing.cache import FingerprintCache

        cache_dir = start.get("cache_dir")
        cache = FingerprintCache(Path(cache_dir)) if cache_dir else None
        return BlockMapper(Path(start["root"]), cache)

    def _send_all(
        self, inbox: queue.Queue[dict[str, Any] | None], upload: Any, mapper: Any
    ) -> tuple[dict[str, Any] | None, Exception | None]:
        """Send every batch until ``finish`` (returned) or the end of input (pytest died).
        After a batch could not be sent, keep reading (pytest is never blocked) but send no
        more: the run is incomplete whatever follows."""
        from greenline.errors import GreenlineError

        failure: Exception | None = None
        try:
            while True:
                message = self._next(inbox)
                if message is None or message.get("type") == "finish":
                    return message, failure
                if message.get("type") not in SENT or failure is not None:
                    continue
                batch = self._gather(message, inbox, mapper)
                try:
                    upload.send(
                        batch.results, batch.coverage, batch.files, import_time=batch.import_time
                    )
                    self.stored += len(batch.results)
                except GreenlineError as exc:
                    failure = exc
        finally:
            with contextlib.suppress(OSError):
                mapper.close()

    def _next(self, inbox: queue.Queue[dict[str, Any] | None]) -> dict[str, Any] | None:
        held, self._held = self._held, None
        return held if held is not None else inbox.get()

    def _gather(
        self, first: dict[str, Any], inbox: queue.Queue[dict[str, Any] | None], mapper: Any
    ) -> _Batch:
        """The message ``first`` and the ones queued behind it, up to UPLOAD_RESULTS results."""
        batch = _Batch()
        batch.add(first, mapper)
        while len(batch.results) < UPLOAD_RESULTS:
            try:
                message = inbox.get_nowait()
            except queue.Empty:
                break
            if message is None:
                inbox.put(None)  # the end of input: the next read sees it again
                break
            if message.get("type") not in SENT:
                self._held = message
                break
            batch.add(message, mapper)
        return batch


#: the messages whose contents go to the server
SENT = ("batch", "import_time")


@dataclass
class _Batch:
    """pytest's messages merged into one request."""

    results: list[Any] = field(default_factory=list)
    coverage: dict[str, frozenset[Any]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    import_time: dict[str, frozenset[Any]] = field(default_factory=dict)

    def add(self, message: dict[str, Any], mapper: Any) -> None:
        if message.get("type") == "import_time":
            for module, blocks in decode_import_time(message, mapper).items():
                self.import_time[module] = self.import_time.get(module, frozenset()) | blocks
            return
        results, coverage, files = decode_batch(message, mapper)
        self.results += results
        for test_id, blocks in coverage.items():  # a rerun's attempts: every block
            self.coverage[test_id] = self.coverage.get(test_id, frozenset()) | blocks
        for test_id, paths in files.items():
            self.files.setdefault(test_id, []).extend(paths)
