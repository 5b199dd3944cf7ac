"""Splitting the suite into shards: durations from the newest complete run on HEAD's history,
the splitter's plan over them, and the plan stored under a CI run's key so that every shard of
that run (and a retried one) works from the same plan."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath

from greenline import vcs
from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.model import Run, RunStatus
from greenline.model.shards import ShardPlan, decode_plan, encode_plan
from greenline.selection.split import split_tests
from greenline.store import reads, writes
from greenline.store.shards import insert_shard_plan, read_shard_plan

#: how many of the newest complete runs a test's duration may come from
HISTORY_RUNS = 10
#: pytest's default test file names (``python_files``)
TEST_FILES = ("test_*.py", "*_test.py")


class SplitService:
    """Timing-balanced shards of the suite."""

    def __init__(self, ws: Workspace, runs: RunService) -> None:
        self.ws = ws
        self.runs = runs

    def history(self) -> tuple[Run | None, dict[str, float], set[str]]:
        """(the newest run durations come from, each test's recorded seconds, the files of its
        tests): each test's newest duration over the last complete runs on HEAD's history
        (else the newest complete runs at all), so the runs of separate shards, or of a
        selection, together give every test they ran its time."""
        with self.ws.store.read() as conn:
            candidates = reads.list_runs(
                conn, self.ws.repository, limit=50, status=RunStatus.COMPLETE
            )
        if not candidates:
            return None, {}, set()
        on_history = [
            r for r in candidates if r.commit.sha and vcs.is_ancestor(self.ws.root, r.commit.sha)
        ]
        chosen = (on_history or candidates)[:HISTORY_RUNS]
        durations: dict[str, float] = {}
        files: set[str] = set()
        with self.ws.store.read() as conn:
            for run in chosen:
                for r in reads.final_results(conn, run.id):
                    if r.test_id not in durations:
                        durations[r.test_id] = r.duration
                        files.add(r.path or r.test_id.split("::", 1)[0])
        return chosen[0], durations, files

    def plan(
        self, shards: int, *, test_ids: Iterable[str] | None = None, key: str | None = None
    ) -> ShardPlan:
        """The plan for ``shards`` shards: the one stored under ``key`` if there is one, else a
        new one (stored under ``key`` when given) over ``test_ids`` (what pytest collected), or
        without them over the history's tests that still exist and the new test files."""
        if key:
            stored = self.stored_plan(key, shards)
            if stored is not None:
                return stored
        run, durations, files = self.history()
        if test_ids is None:
            wanted: dict[str, float | None] = {
                t: d for t, d in durations.items() if self._exists(t)
            }
            wanted |= dict.fromkeys(self._new_test_files(files))
        else:
            wanted = {t: durations.get(t) for t in test_ids}
        plan = split_tests(wanted, shards, baseline_run_id=run.id if run else None)
        return self._store(plan, key) if key else plan

    def stored_plan(self, key: str, shards: int) -> ShardPlan | None:
        with self.ws.store.read() as conn:
            text = read_shard_plan(conn, self.ws.repository, key, shards)
        return decode_plan(text, key) if text is not None else None

    def _store(self, plan: ShardPlan, key: str) -> ShardPlan:
        """Keep the plan under ``key``; if another shard stored one first, that one wins."""
        sha = vcs.read_commit(self.ws.root).sha
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
            stored = insert_shard_plan(
                conn,
                repo_id,
                key,
                plan.shards,
                sha,
                plan.baseline_run_id,
                datetime.now(UTC),
                encode_plan(plan),
            )
        if stored:
            return decode_plan(encode_plan(plan), key)
        found = self.stored_plan(key, plan.shards)
        assert found is not None
        return found

    def _exists(self, test_id: str) -> bool:
        """A test of the history whose file is gone would make pytest stop: leave it out."""
        path = test_id.split("::", 1)[0]
        return (self.ws.root / path).is_file() if path.endswith(".py") else True

    def _new_test_files(self, known: set[str]) -> list[str]:
        """Test files the history never ran: each one a unit of the plan."""
        return [
            path
            for path in vcs.list_python_files(self.ws.root)
            if path not in known
            and any(fnmatch.fnmatch(PurePosixPath(path).name, p) for p in TEST_FILES)
        ]
