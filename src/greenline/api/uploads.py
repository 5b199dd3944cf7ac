"""Runs uploaded to the team server by CI jobs: started under the client's key, filled batch by
batch (each batch stored once, however often it is sent), finished when the job ends."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.errors import ConflictError, GreenlineError, NoDataError, UsageError
from greenline.model import (
    BatchReceipt,
    Block,
    CommitInfo,
    Environment,
    Run,
    RunStatus,
    TestResult,
    Upload,
)
from greenline.store import uploads as stored
from greenline.store import writes

#: an upload key: what a client draws at random once per run (a UUID's hex, say)
KEY_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
_KEY = re.compile(KEY_PATTERN)
#: an upload that heard nothing from its client for this long is shown incomplete (its job died,
#: or lost the server for good); the next upload's start notices. Its client may still send
#: batches and finish it: only a finish ends an upload
STALE_AFTER = timedelta(minutes=30)


class _KeyTakenError(Exception):
    """Another request claimed the key between our look-up and our insert."""


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise UsageError(
            f"upload key {key[:80]!r} is not 16 to 64 letters, digits, '-' or '_'",
            hint="draw one per run, e.g. a UUID's hex (uuid.uuid4().hex)",
        )
    return key


class UploadService:
    """Uploads into the workspace's store; every call is one transaction."""

    def __init__(self, ws: Workspace, runs: RunService) -> None:
        self.ws = ws
        self.runs = runs

    def start(
        self,
        key: str,
        *,
        commit: CommitInfo,
        environment: Environment | None = None,
        source: str = "pytest",
        args: str | None = None,
        hostname: str | None = None,
        pid: int | None = None,
        started_at: datetime | None = None,
    ) -> Upload:
        """A new ``running`` run for ``key``, or (the start sent again) the one made for it."""
        check_key(key)
        for _ in range(3):
            try:
                with self.ws.store.write() as conn:
                    found = stored.find_upload(conn, key)
                    if found is not None:
                        return self._upload(conn, key, found[0], found[1], created=False)
                    stored.mark_stale_uploads_incomplete(conn, datetime.now(UTC) - STALE_AFTER)
                    repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
                    run_id = writes.insert_run(
                        conn,
                        repo_id=repo_id,
                        commit=commit,
                        environment=environment,
                        source=source,
                        started_at=started_at or datetime.now(UTC),
                        hostname=hostname,
                        pid=pid,
                        args=args,
                    )
                    if not stored.claim_upload(conn, key, run_id, datetime.now(UTC)):
                        raise _KeyTakenError  # rolls the new run back; the next turn finds theirs
                    return Upload(key, run_id, RunStatus.RUNNING)
            except _KeyTakenError:
                continue
        raise ConflictError(f"upload key {key!r} is contended", hint="send the start again")

    def add_batch(
        self,
        key: str,
        seq: int,
        results: Iterable[TestResult],
        coverage: Mapping[str, Iterable[Block]] | None = None,
        file_reads: Mapping[str, Iterable[str]] | None = None,
        import_time: Mapping[str, Iterable[Block]] | None = None,
    ) -> BatchReceipt:
        """Store batch ``seq`` of the upload (results, their coverage and file reads, what ran
        while modules were imported) in one transaction with its claim; a batch stored before
        is acknowledged, not stored again."""
        batch = list(results)
        with self.ws.store.write() as conn:
            run_id, status, repo_id, finished = self._find(conn, key)
            if not stored.claim_batch(conn, run_id, seq, len(batch), datetime.now(UTC)):
                return BatchReceipt(key, run_id, seq, len(batch), duplicate=True)
            if finished:
                raise ConflictError(
                    f"upload {key} is finished (run {run_id} is {status}): it takes no batches",
                    hint="start a new upload for a new run",
                )
            if status != RunStatus.RUNNING.value:  # it fell silent, and is back
                stored.reopen_upload(conn, run_id)
            history = writes.BatchHistory()
            pks = writes.insert_results(conn, run_id, repo_id, batch, history=history)
            if coverage is not None:
                writes.insert_coverage(conn, run_id, repo_id, coverage, pks, history)
            if file_reads:
                writes.insert_file_reads(conn, run_id, repo_id, file_reads)
            if import_time:
                writes.insert_import_coverage(conn, run_id, repo_id, import_time)
        return BatchReceipt(key, run_id, seq, len(batch), duplicate=False)

    def finish(
        self, key: str, exit_status: int | None, *, complete: bool, batches: int | None = None
    ) -> Run:
        """End the upload's run: ``complete`` only if every batch 1..``batches`` was stored
        (a ConflictError names the missing ones). Finishing a finished run changes nothing."""
        ended = False
        with self.ws.store.write() as conn:
            run_id, _, _, finished = self._find(conn, key)
            if not finished:
                if complete and batches is not None:
                    have = {seq for seq, _ in stored.stored_batches(conn, run_id)}
                    missing = sorted(set(range(1, batches + 1)) - have)
                    if missing:
                        raise ConflictError(
                            f"upload {key}: {len(missing)} of {batches} batches were never "
                            f"stored (first: {missing[0]})",
                            hint="send them again, then finish",
                        )
                state = RunStatus.COMPLETE if complete else RunStatus.INCOMPLETE
                writes.finish_run(conn, run_id, state, exit_status)
                ended = complete
        if ended:
            self._apply_retention()
        return self.runs.get_run(run_id)

    def _apply_retention(self) -> None:
        """Prune by the retention settings once a run is in: trouble pruning is no upload's."""
        from greenline.api.housekeeping import HousekeepingService

        with contextlib.suppress(GreenlineError):
            HousekeepingService(self.ws).apply_retention(datetime.now(UTC))

    def get(self, key: str) -> Upload:
        """The upload's run, its status and the batches stored so far."""
        with self.ws.store.read() as conn:
            run_id, status, _, _ = self._find(conn, key)
            return self._upload(conn, key, run_id, status, created=False)

    def _find(self, conn: Connection, key: str) -> tuple[int, str, int, bool]:
        found = stored.find_upload(conn, check_key(key))
        if found is None:
            raise NoDataError(
                f"no upload with key {key!r}", hint="start it first: POST /api/v1/uploads"
            )
        return found

    @staticmethod
    def _upload(conn: Connection, key: str, run_id: int, status: str, *, created: bool) -> Upload:
        batches = stored.stored_batches(conn, run_id)
        return Upload(
            key,
            run_id,
            RunStatus(status),
            tuple(seq for seq, _ in batches),
            sum(count for _, count in batches),
            created=created,
        )
