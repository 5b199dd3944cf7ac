"""Baselines between machines: a recorded run (results, coverage, files read) exported to a
portable file and imported into another store, e.g. through a CI cache."""

from __future__ import annotations

from pathlib import Path

from greenline import vcs
from greenline.api.runs import RunService
from greenline.api.selection import SelectionService
from greenline.api.workspace import Workspace
from greenline.baselines import read_baseline, write_baseline
from greenline.errors import InputError, UsageError
from greenline.model import Run, RunStatus
from greenline.store import reads, writes


class BaselineService:
    def __init__(self, ws: Workspace, runs: RunService, selection: SelectionService) -> None:
        self.ws = ws
        self.runs = runs
        self.selection = selection

    def export(self, path: Path, run_id: int | None = None) -> Run:
        """Write a baseline run (default: the one selection would use) to a portable file."""
        run = self.runs.get_run(run_id) if run_id is not None else self.selection.find_baseline()
        if run.status is not RunStatus.COMPLETE or not run.has_coverage:
            raise UsageError(
                f"run {run.id} is {run.status.value}"
                + ("" if run.has_coverage else ", without coverage")
                + ": not a baseline",
                hint="export a complete run recorded with pytest --greenline-record",
            )
        with self.ws.store.read() as conn:
            results = reads.run_results(conn, run.id)
            coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run.id)}
            files = reads.run_file_reads(conn, run.id)
            import_time = reads.run_import_coverage(conn, run.id)
        write_baseline(path, run, results, coverage, files, import_time)
        return run

    def import_file(self, path: Path, *, label: str | None = None) -> tuple[Run, bool]:
        """Store a baseline file as a complete run; (the run, whether it is new). Importing the
        same file again finds the first copy; a bad file stores nothing. Messages name the
        file, or ``label`` (what it is to the user, when it came another way)."""
        name = label or str(path)
        data = read_baseline(path, name)
        if data.commit.sha is None:
            raise InputError(f"{name}: the baseline has no commit", hint="export one made in git")
        vcs.require_commit(self.ws.root, data.commit.sha, name)
        with self.ws.store.write() as conn:
            existing = reads.find_run_at(conn, self.ws.repository, data.commit.sha, data.started_at)
            if existing is None:
                repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
                existing = writes.insert_run(
                    conn,
                    repo_id=repo_id,
                    commit=data.commit,
                    environment=data.environment,
                    source="baseline",
                    started_at=data.started_at,
                    args=data.args,
                )
                history = writes.BatchHistory()
                pks = writes.insert_results(conn, existing, repo_id, data.results, history=history)
                writes.insert_coverage(conn, existing, repo_id, data.coverage, pks, history)
                writes.insert_file_reads(conn, existing, repo_id, data.files)
                writes.insert_import_coverage(conn, existing, repo_id, data.import_time)
                writes.finish_run(conn, existing, RunStatus.COMPLETE, finished_at=data.finished_at)
                new = True
            else:
                new = False
        return self.runs.get_run(existing), new
