"""Recording and reading runs: start, fill and finish a run, record a pytest run, import JUnit
XML, and the reads every interface shows (runs, results, tests, a test's history, the store).

Listing runs reads through ``store.lookups`` alone; the modules that write, parse JUnit or use
SQLAlchemy Core load in the methods that need them, so ``greenline runs`` imports none of them.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from greenline import vcs
from greenline.api.workspace import Workspace
from greenline.errors import NoDataError, UsageError
from greenline.executor import Job, Output, is_process_alive
from greenline.model import (
    Block,
    CommitInfo,
    Environment,
    Run,
    RunStatus,
    TestHistoryEntry,
    TestResult,
    TestSummary,
)
from greenline.store import lookups

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from greenline.junit import JUnitReader

IMPORT_BATCH = 2000


@dataclass(frozen=True)
class RecordOutcome:
    """What ``greenline record`` did: pytest's exit code and the run it stored."""

    exit_code: int
    run: Run | None


class RunService:
    """Runs and their results in the workspace's store."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # -- recording -------------------------------------------------------------------------
    def start_run(
        self,
        source: str,
        *,
        commit: CommitInfo | None = None,
        args: str | None = None,
        started_at: datetime | None = None,
        with_environment: bool = True,
        environment: Environment | None = None,
        pid: int | None = None,
    ) -> int:
        """A new ``running`` run tied to the checked-out commit (or the one given).

        ``environment`` and ``pid`` describe the process that runs the tests, when that is not
        this one (the pytest plugin's store writer)."""
        from greenline.store import writes
        from greenline.tracing.environment import read_environment

        self.sweep_dead_runs()
        commit = commit or vcs.read_commit(self.ws.root)
        if environment is None and with_environment:
            environment = read_environment()
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
            return writes.insert_run(
                conn,
                repo_id=repo_id,
                commit=commit,
                environment=environment,
                source=source,
                started_at=started_at or datetime.now(UTC),
                hostname=socket.gethostname(),
                pid=pid or os.getpid(),
                args=args,
            )

    def add_results(
        self,
        run_id: int,
        results: Iterable[TestResult],
        coverage: Mapping[str, Iterable[Block]] | None = None,
        file_reads: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """Store a batch of results, the coverage of the tests in it and the non-Python files
        they read, in one transaction."""
        from greenline.store import writes

        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            history = writes.BatchHistory()
            pks = writes.insert_results(conn, run_id, repo_id, list(results), history=history)
            if coverage is not None:
                writes.insert_coverage(conn, run_id, repo_id, coverage, pks, history)
            if file_reads:
                writes.insert_file_reads(conn, run_id, repo_id, file_reads)

    def add_import_time(self, run_id: int, modules: Mapping[str, Iterable[Block]]) -> None:
        """Store what ran while each project module was imported before the run's first test."""
        from greenline.store import writes

        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            writes.insert_import_coverage(conn, run_id, repo_id, modules)

    def finish_run(self, run_id: int, exit_status: int | None, *, complete: bool) -> None:
        from greenline.store import writes

        status = RunStatus.COMPLETE if complete else RunStatus.INCOMPLETE
        with self.ws.store.write() as conn:
            writes.finish_run(conn, run_id, status, exit_status)

    def sweep_dead_runs(self) -> int:
        """Runs left ``running`` by a process on this host that died become ``incomplete``."""
        from greenline.store import writes

        with self.ws.store.write() as conn:
            return writes.mark_dead_runs_incomplete(conn, socket.gethostname(), is_process_alive)

    def record(self, pytest_args: list[str], python: str = sys.executable) -> RecordOutcome:
        """Run pytest with recording on; returns its exit code and the run it stored."""
        if python == sys.executable and importlib.util.find_spec("pytest") is None:
            raise UsageError(
                "pytest is not installed in this environment",
                hint="pip install pytest (greenline records pytest runs; other runners: "
                "greenline import junit)",
            )
        argv = (python, "-m", "pytest", "--greenline-record", *pytest_args)
        url = self.ws.settings.values["database_url"]
        env = {"GREENLINE_DATABASE_URL": url.value} if url.value else {}
        # the user watches this run: its output and Ctrl-C are theirs, so it runs here
        result = self.ws.executor.run(Job(argv, self.ws.workdir, env, output=Output.INHERIT))
        from greenline.store import reads

        run_id = None
        if result.pid is not None:
            with self.ws.store.read() as conn:
                run_id = reads.find_run_by_process(conn, socket.gethostname(), result.pid)
        code = result.exit_code if result.exit_code is not None else 2
        return RecordOutcome(code, self.get_run(run_id) if run_id else None)

    def import_junit(
        self,
        paths: list[Path],
        commit: CommitInfo | None = None,
        on_progress: Callable[[Path, int], None] | None = None,
    ) -> Run:
        """Store JUnit XML files as one complete run; a bad file leaves the store untouched.

        ``on_progress(file, results_so_far)`` is called after each stored batch."""
        from greenline.junit import JUnitReader
        from greenline.store import writes

        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {missing[0]}", hint="pass paths to JUnit XML reports")
        root = self.ws.root
        commit = vcs.complete_commit(root, commit) if commit else vcs.read_commit(root)
        readers = [JUnitReader(p, root=root) for p in paths]
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
            run_id = writes.insert_run(
                conn,
                repo_id=repo_id,
                commit=commit,
                environment=None,
                source="junit",
                started_at=datetime.now(UTC),
                args=" ".join(p.name for p in paths),
            )
            for reader in readers:
                _import_file(conn, reader, run_id, repo_id, on_progress)
            stamps = [r.started_at for r in readers if r.started_at]
            if stamps:
                writes.set_run_started(conn, run_id, min(stamps))
            writes.finish_run(conn, run_id, RunStatus.COMPLETE)
        return self.get_run(run_id)

    # -- reading ---------------------------------------------------------------------------
    def list_runs(
        self,
        limit: int = 20,
        status: RunStatus | None = None,
        branch: str | None = None,
        before: tuple[datetime, int] | None = None,
    ) -> list[Run]:
        """The newest runs first; ``before`` (a run's start and id) pages on after it."""

        def listed(conn: lookups.SqlConnection) -> list[Run]:
            return lookups.list_runs(
                conn, self.ws.repository, limit=limit, status=status, branch=branch, before=before
            )

        with self.ws.store.lookup() as conn:  # one transaction unless runs are left running
            if not self._has_running(conn):
                return listed(conn)
        self.sweep_dead_runs()
        with self.ws.store.lookup() as conn:
            return listed(conn)

    def count_runs(self, status: RunStatus | None = None, branch: str | None = None) -> int:
        """How many runs ``list_runs`` lists with these filters, all pages together."""
        with self.ws.store.lookup() as conn:
            return lookups.count_runs(conn, self.ws.repository, status=status, branch=branch)

    def count_history(self, test_id: str) -> int:
        """How many results of ``test_id`` its history holds, all pages together."""
        with self.ws.store.lookup() as conn:
            return lookups.count_test_results(conn, self.ws.repository, test_id)

    def get_run(self, run_id: int) -> Run:
        self.sweep_if_needed()
        with self.ws.store.lookup() as conn:
            run = lookups.get_run(conn, run_id)
        if run is None:
            raise NoDataError(f"no run with id {run_id}", hint="list runs with: greenline runs")
        return run

    def run_with_results(
        self, run_id: int, include: str = "failures"
    ) -> tuple[Run, list[TestResult] | None]:
        """A run and its results: ``failures`` (failed and errored attempts), ``all`` or
        ``none``."""
        if include not in ("failures", "all", "none"):
            raise UsageError(
                f"include {include!r}: one of failures, all, none", hint="include=failures"
            )
        run = self.get_run(run_id)
        if include == "none":
            return run, None
        results = self.run_results(run_id)
        if include == "failures":
            results = [r for r in results if r.outcome.is_failure]
        return run, results

    def run_results(self, run_id: int) -> list[TestResult]:
        from greenline.store import reads

        self.get_run(run_id)
        with self.ws.store.read() as conn:
            return reads.run_results(conn, run_id)

    def list_tests(
        self,
        *,
        slowest: int | None = None,
        failing: bool = False,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[TestSummary]:
        """Tests across history, by id (those after test id ``after``, at most ``limit``);
        ``failing``: last outcome a failure; ``slowest``: top N by mean duration. Read from
        the summaries the store keeps per test, so a page costs the same at any history."""
        from greenline.store import summary_reads

        with self.ws.store.lookup() as conn:
            return summary_reads.list_test_summaries(
                conn,
                self.ws.repository,
                after=after,
                limit=limit,
                failing=failing,
                slowest=slowest,
            )

    def test_history(self, test_id: str, limit: int = 50) -> list[TestHistoryEntry]:
        from greenline.store import reads

        with self.ws.store.read() as conn:
            history = reads.read_test_history(conn, self.ws.repository, test_id, limit=limit)
            if history:
                return history
            known = reads.known_test_ids(conn, self.ws.repository)
        raise unknown_test(test_id, known, self.ws.repository)

    def known_test_ids(self) -> set[str]:
        from greenline.store import reads

        with self.ws.store.read() as conn:
            return set(reads.known_test_ids(conn, self.ws.repository))

    # -- the store ---------------------------------------------------------------------------
    def upgrade_store(self) -> tuple[str | None, str]:
        """Migrate the store forward to this greenline's schema; (before, after)."""
        from greenline.store import upgrade_schema
        from greenline.store.engine import translate_errors

        with translate_errors(self.ws.store.url):
            return upgrade_schema(self.ws.store.engine)

    def db_info(self, *, size: bool = True) -> dict[str, object]:
        """Where the store is, its schema, its rows and (``size``) the room it takes."""
        from greenline.api.housekeeping import HousekeepingService
        from greenline.store import reads

        revision, head = self.ws.store.revision()
        with self.ws.store.read() as conn:
            counts = reads.count_rows(conn)
        info: dict[str, object] = {
            "url": self.ws.store.display_url,
            "dialect": self.ws.store.dialect,
            "revision": revision,
            "head": head,
            "up_to_date": revision == head,
            "repository": self.ws.repository,
            "rows": counts,
        }
        if size:
            info["size"] = HousekeepingService(self.ws).size()
        return info

    def sweep_if_needed(self) -> None:
        """Sweep dead runs (``sweep_dead_runs``) when the store has runs still ``running``."""
        with self.ws.store.lookup() as conn:
            running = self._has_running(conn)
        if running:
            self.sweep_dead_runs()

    def _has_running(self, conn: lookups.SqlConnection) -> bool:
        """True when a run started on this host is still ``running`` (one a sweep may find
        dead); an upload's run is no such run, so reads beside uploads need no sweep."""
        return lookups.has_running_runs(conn, socket.gethostname())


def unknown_test(test_id: str, known: Iterable[str], repository: str) -> NoDataError:
    """No such test, with the closest known id as the hint."""
    close = difflib.get_close_matches(test_id, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "list tests with: greenline tests"
    return NoDataError(f"no results for test '{test_id}' in {repository}", hint=hint)


def _import_file(
    conn: Connection,
    reader: JUnitReader,
    run_id: int,
    repo_id: int,
    on_progress: Callable[[Path, int], None] | None,
) -> None:
    from greenline.store import writes

    batch: list[TestResult] = []
    done = 0
    for result in reader:
        batch.append(result)
        if len(batch) >= IMPORT_BATCH:
            writes.insert_results(conn, run_id, repo_id, batch, renumber=True)
            done += len(batch)
            batch = []
            if on_progress:
                on_progress(reader.path, done)
    writes.insert_results(conn, run_id, repo_id, batch, renumber=True)
    if on_progress:
        on_progress(reader.path, done + len(batch))
