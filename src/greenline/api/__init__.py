"""The Greenline facade and composition root: opens the store, calls adapters, persists results.

Interfaces (CLI, pytest plugin, MCP server) talk to this class only; it hands them model values,
which they render through ``views``.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from greenline import vcs
from greenline.api.fixing import FixApi
from greenline.api.flaky import FlakyApi
from greenline.api.insights import InsightsApi
from greenline.api.queue import QueueApi
from greenline.baselines import read_baseline, write_baseline
from greenline.config import Settings, Value, load_settings, mask_url
from greenline.errors import GreenlineError, InputError, NoDataError, UsageError
from greenline.executor import is_process_alive, run_command
from greenline.junit import JUnitReader
from greenline.model import (
    Block,
    Change,
    CommitInfo,
    Environment,
    Outcome,
    Run,
    RunStatus,
    SelectionPlan,
    TestHistoryEntry,
    TestResult,
    TestSummary,
)
from greenline.selection import (
    Baseline,
    Budget,
    ImportGraph,
    import_paths,
    learn,
    limit_to_budget,
    plan_selection,
)
from greenline.selection.impact import changed_paths, python_paths
from greenline.selection.learn import Example, TreeEnsemble
from greenline.selection.ranking import FEATURES, History
from greenline.store import Store, reads, upgrade_schema, writes
from greenline.store.engine import translate_errors
from greenline.tracing import read_file_blocks
from greenline.tracing.environment import read_environment

IMPORT_BATCH = 2000


@dataclass(frozen=True)
class RecordOutcome:
    """What ``greenline record`` did: pytest's exit code and the run it stored."""

    exit_code: int
    run: Run | None


class Greenline(FlakyApi, FixApi, InsightsApi, QueueApi):
    """One repository's view of a store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        repository: str,
        in_git: bool,
        workdir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.repository = repository
        self.in_git = in_git
        self.root = settings.root
        #: Where the user pointed greenline (commands that run the suite run there).
        self.workdir = workdir or settings.root

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        db: str | None = None,
        env: Mapping[str, str] | None = None,
        migrate: bool = True,
        create: bool = True,
    ) -> Greenline:
        """Open the store for the repository containing ``path`` (default: the current dir).

        With ``create=False`` (read commands) a local store that does not exist yet is a
        NoDataError rather than a new empty file."""
        start, root, git_root = _locate(path)
        settings = load_settings(root, os.environ if env is None else env, {"database_url": db})
        missing = _missing_sqlite_file(settings.database_url)
        if missing is not None and not create:
            raise NoDataError(
                f"no greenline store at {missing} yet",
                hint="record a run first: greenline record (or pytest --greenline-record)",
            )
        if not settings.values["database_url"].value:
            _keep_store_out_of_git(root / ".greenline")
        store = Store(settings.database_url, migrate=migrate)
        name = vcs.repository_name(root)
        return cls(settings, store, name, in_git=git_root is not None, workdir=start)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Greenline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        self.sweep_dead_runs()
        commit = commit or vcs.read_commit(self.root)
        if environment is None and with_environment:
            environment = read_environment()
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, str(self.root))
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
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, None)
            writes.insert_results(conn, run_id, repo_id, list(results))
            if coverage:
                writes.insert_coverage(conn, run_id, repo_id, coverage)
            if file_reads:
                writes.insert_file_reads(conn, run_id, repo_id, file_reads)

    def finish_run(self, run_id: int, exit_status: int | None, *, complete: bool) -> None:
        status = RunStatus.COMPLETE if complete else RunStatus.INCOMPLETE
        with self.store.write() as conn:
            writes.finish_run(conn, run_id, status, exit_status)

    def sweep_dead_runs(self) -> int:
        """Runs left ``running`` by a process on this host that died become ``incomplete``."""
        with self.store.write() as conn:
            return writes.mark_dead_runs_incomplete(conn, socket.gethostname(), is_process_alive)

    def record(self, pytest_args: list[str], python: str = sys.executable) -> RecordOutcome:
        """Run pytest with recording on; returns its exit code and the run it stored."""
        if python == sys.executable and importlib.util.find_spec("pytest") is None:
            raise UsageError(
                "pytest is not installed in this environment",
                hint="pip install pytest (greenline records pytest runs; other runners: "
                "greenline import junit)",
            )
        argv = [python, "-m", "pytest", "--greenline-record", *pytest_args]
        url = self.settings.values["database_url"]
        env = {"GREENLINE_DATABASE_URL": url.value} if url.value else {}
        result = run_command(argv, cwd=self.workdir, env=env)
        with self.store.read() as conn:
            run_id = reads.find_run_by_process(conn, socket.gethostname(), result.pid)
        return RecordOutcome(result.exit_code, self.get_run(run_id) if run_id else None)

    def import_junit(
        self,
        paths: list[Path],
        commit: CommitInfo | None = None,
        on_progress: Callable[[Path, int], None] | None = None,
    ) -> Run:
        """Store JUnit XML files as one complete run; a bad file leaves the store untouched.

        ``on_progress(file, results_so_far)`` is called after each stored batch."""
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {missing[0]}", hint="pass paths to JUnit XML reports")
        commit = commit or vcs.read_commit(self.root)
        readers = [JUnitReader(p) for p in paths]
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, str(self.root))
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
        self, limit: int = 20, status: RunStatus | None = None, branch: str | None = None
    ) -> list[Run]:
        self._sweep_if_needed()
        with self.store.read() as conn:
            return reads.list_runs(conn, self.repository, limit=limit, status=status, branch=branch)

    def get_run(self, run_id: int) -> Run:
        self._sweep_if_needed()
        with self.store.read() as conn:
            run = reads.get_run(conn, run_id)
        if run is None:
            raise NoDataError(f"no run with id {run_id}", hint="list runs with: greenline runs")
        return run

    def run_results(self, run_id: int) -> list[TestResult]:
        self.get_run(run_id)
        with self.store.read() as conn:
            return reads.run_results(conn, run_id)

    def list_tests(self, *, slowest: int | None = None, failing: bool = False) -> list[TestSummary]:
        """Tests across history; ``failing``: last outcome a failure; ``slowest``: top N by
        mean duration."""
        with self.store.read() as conn:
            summaries = reads.summarize_tests(conn, self.repository)
        if failing:
            summaries = [s for s in summaries if s.last_outcome.is_failure]
        if slowest is not None:
            summaries = sorted(summaries, key=lambda s: -s.mean_duration)[:slowest]
        else:
            summaries.sort(key=lambda s: s.test_id)
        return summaries

    def test_history(self, test_id: str, limit: int = 50) -> list[TestHistoryEntry]:
        with self.store.read() as conn:
            history = reads.read_test_history(conn, self.repository, test_id, limit=limit)
            if history:
                return history
            known = reads.known_test_ids(conn, self.repository)
        close = difflib.get_close_matches(test_id, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "list tests with: greenline tests"
        raise NoDataError(f"no results for test '{test_id}' in {self.repository}", hint=hint)

    def upgrade_store(self) -> tuple[str | None, str]:
        """Migrate the store forward to this greenline's schema; (before, after)."""
        with translate_errors(self.store.url):
            return upgrade_schema(self.store.engine)

    def db_info(self) -> dict[str, object]:
        revision, head = self.store.revision()
        with self.store.read() as conn:
            counts = reads.count_rows(conn)
        return {
            "url": self.store.display_url,
            "dialect": self.store.dialect,
            "revision": revision,
            "head": head,
            "up_to_date": revision == head,
            "repository": self.repository,
            "rows": counts,
        }

    # -- baselines between machines -----------------------------------------------------------

    def export_baseline(self, path: Path, run_id: int | None = None) -> Run:
        """Write a baseline run (default: the one selection would use) to a portable file."""
        run = self.get_run(run_id) if run_id is not None else self.find_baseline()
        if run.status is not RunStatus.COMPLETE or not run.has_coverage:
            raise UsageError(
                f"run {run.id} is {run.status.value}"
                + ("" if run.has_coverage else ", without coverage")
                + ": not a baseline",
                hint="export a complete run recorded with pytest --greenline-record",
            )
        with self.store.read() as conn:
            results = reads.run_results(conn, run.id)
            coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run.id)}
            files = reads.run_file_reads(conn, run.id)
        write_baseline(path, run, results, coverage, files)
        return run

    def import_baseline(self, path: Path) -> tuple[Run, bool]:
        """Store a baseline file as a complete run; (the run, whether it is new). Importing the
        same file again finds the first copy; a bad file stores nothing."""
        data = read_baseline(path)
        if data.commit.sha is None:
            raise InputError(f"{path}: the baseline has no commit", hint="export one made in git")
        with self.store.write() as conn:
            existing = reads.find_run_at(conn, self.repository, data.commit.sha, data.started_at)
            if existing is None:
                repo_id = writes.ensure_repository(conn, self.repository, str(self.root))
                existing = writes.insert_run(
                    conn,
                    repo_id=repo_id,
                    commit=data.commit,
                    environment=data.environment,
                    source="baseline",
                    started_at=data.started_at,
                    args=data.args,
                )
                writes.insert_results(conn, existing, repo_id, data.results)
                writes.insert_coverage(conn, existing, repo_id, data.coverage)
                writes.insert_file_reads(conn, existing, repo_id, data.files)
                writes.finish_run(conn, existing, RunStatus.COMPLETE, finished_at=data.finished_at)
                new = True
            else:
                new = False
        return self.get_run(existing), new

    # -- selection ---------------------------------------------------------------------------

    def find_baseline(self, base: str | None = None) -> Run:
        """The run a change is judged against: the newest complete run with coverage at commit
        ``base``, or (without one) at HEAD or one of its ancestors."""
        wanted = vcs.resolve_revision(self.root, base) if base else None
        with self.store.read() as conn:
            candidates = reads.latest_baselines(conn, self.repository)
        for run in candidates:
            sha = run.commit.sha
            if sha and (sha == wanted if wanted else vcs.is_ancestor(self.root, sha)):
                return self.get_run(run.id)
        where = f"at {base}" if base else "on this branch's history"
        raise NoDataError(
            f"no baseline: no complete run with coverage {where}",
            hint="record one on the base commit: greenline record (then select against it)",
        )

    def plan_selection(
        self, base: str | None = None, budget: Budget | None = None, *, learned: bool = True
    ) -> SelectionPlan:
        """Which tests the working tree's change (since the baseline) can break, and why;
        with a budget, only as many as fit (in order). ``learned=False`` ranks with the
        heuristic even when a learned model is in use (to compare the two)."""
        run = self.find_baseline(base)
        assert run.commit.sha is not None
        change = vcs.read_change(self.root, run.commit.sha)
        with self.store.read() as conn:
            finals = reads.final_results(conn, run.id)
            wanted = changed_paths(change)
            coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run.id, wanted)}
            sizes = reads.coverage_sizes(conn, run.id)
            files = reads.run_file_reads(conn, run.id)
            failures, taken = reads.recent_outcomes(conn, self.repository)
            ranker = self._ranker(conn) if learned else None
        baseline = Baseline(
            run_id=run.id,
            base=run.commit.sha,
            environment=run.environment,
            coverage=coverage,
            outcomes={r.test_id: r.outcome for r in finals},
            durations={r.test_id: r.duration for r in finals},
            paths={r.test_id: r.path for r in finals},
            files=files,
            coverage_sizes=sizes,
        )
        current = {
            new: _current_blocks(self.root / new)
            for new in {
                f.path for f in change.files if (f.old_path or f.path) in python_paths(change)
            }
        }
        importers = self._importers(import_paths(baseline, change), change)
        plan = plan_selection(
            baseline,
            change,
            current,
            read_environment(),
            importers,
            always_run=self.settings.always_run,
            history=History(failures, taken),
            model=ranker,
        )
        return limit_to_budget(plan, budget) if budget is not None else plan

    def _ranker(self, conn: Connection) -> tuple[str, TreeEnsemble] | None:
        """The newest learned ranking model, if one was adopted (else the heuristic ranks)."""
        found = reads.latest_ranker(conn, self.repository)
        if found is None:
            return None
        ranker_id, _, text = found
        doc = json.loads(text)
        if not doc.get("adopted"):
            return None
        try:
            return f"model {ranker_id} ({doc['examples']} examples)", TreeEnsemble(doc)
        except (ValueError, KeyError, TypeError):  # a model from another version's features
            return None

    def note_affected_tests(self, run_id: int) -> int:
        """Store which tests the change of a run being recorded affects, with their ranking
        features: the examples ranking learns from once the run's outcomes are in. Returns how
        many (0 without a baseline, or when everything must run)."""
        try:
            plan = self.plan_selection()
        except GreenlineError:
            return 0
        if plan.full_suite is not None or not plan.selected:
            return 0
        # the tests exist already: the baseline ran them
        rows = [(t.test_id, None, t.likelihood, t.features) for t in plan.selected]
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, None)
            writes.insert_selection_features(conn, run_id, repo_id, rows)
        return len(rows)

    def ranking_examples(self) -> list[Example]:
        with self.store.read() as conn:
            rows = reads.selection_examples(conn, self.repository)
        out = []
        for run_id, features, outcome in rows:
            if Outcome(outcome) in (Outcome.SKIPPED, Outcome.XFAILED):
                continue  # neither a pass nor a failure
            values = tuple(float(x) for x in json.loads(features))
            if len(values) == len(FEATURES):
                out.append(Example(run_id, values, Outcome(outcome).is_failure))
        return out

    def learn_ranking(self, *, only_if_grown: float | None = None) -> dict[str, Any] | None:
        """Train a ranking model on the history and store it. With ``only_if_grown`` (say 0.25)
        nothing happens unless there is enough history and it grew by that share since the last
        model (so recording can call this after every run); returns the model document."""
        examples = self.ranking_examples()
        if only_if_grown is not None:
            if not learn.enough(examples) or importlib.util.find_spec("sklearn") is None:
                return None
            with self.store.read() as conn:
                last = reads.latest_ranker(conn, self.repository)
            if last is not None:
                before = int(json.loads(last[2]).get("examples", 0))
                if len(examples) < before * (1 + only_if_grown):
                    return None
        doc = learn.train(examples)
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, None)
            doc["id"] = writes.insert_ranker(conn, repo_id, doc, datetime.now(UTC))
        return doc

    def ranking_model(self) -> dict[str, Any] | None:
        """The newest learned model's document (None before any)."""
        with self.store.read() as conn:
            found = reads.latest_ranker(conn, self.repository)
        if found is None:
            return None
        ranker_id, created, text = found
        doc: dict[str, Any] = json.loads(text)
        doc.update(id=ranker_id, created_at=created.isoformat())
        return doc

    def _importers(self, paths: list[str], change: Change) -> dict[str, dict[str, str]] | None:
        """For each path, the project files importing it (read only when there is a path)."""
        if not paths:
            return None
        sources = {}
        for relative in vcs.list_python_files(self.root):
            try:
                sources[relative] = (self.root / relative).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        for f in change.files:  # deleted modules still have importers
            sources.setdefault(f.old_path or f.path, "")
        graph = ImportGraph(sources)
        old_names = {f.path: f.old_path for f in change.files if f.old_path}
        reached = {path: graph.reached_from(path) for path in paths}
        for path, old in old_names.items():  # importers of the old name break too
            if path in reached and old:
                reached[path] = {**graph.reached_from(old), **reached[path]}
        return reached

    def _sweep_if_needed(self) -> None:
        with self.store.read() as conn:
            running = reads.list_runs(conn, self.repository, limit=5, status=RunStatus.RUNNING)
        if running:
            self.sweep_dead_runs()


def _import_file(
    conn: Connection,
    reader: JUnitReader,
    run_id: int,
    repo_id: int,
    on_progress: Callable[[Path, int], None] | None,
) -> None:
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


def _current_blocks(path: Path) -> frozenset[tuple[str, str]] | None:
    """(name, checksum) of each block of the file as it is now; None if gone or unparsable."""
    try:
        blocks = read_file_blocks(path.read_text(encoding="utf-8"), path.name)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    return frozenset((b.name, b.checksum) for b in blocks.blocks)


def load_config(
    path: Path | None = None, *, db: str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Value]:
    """The settings of the repository containing ``path``, without opening the store; the
    database URL with its password masked."""
    _, root, _ = _locate(path)
    settings = load_settings(root, os.environ if env is None else env, {"database_url": db})
    values = dict(settings.values)
    values["database_url"] = Value(mask_url(settings.database_url), values["database_url"].source)
    return values


def _locate(path: Path | None) -> tuple[Path, Path, Path | None]:
    """(where the user pointed, the repository root, the git root if any)."""
    start = (path or Path.cwd()).resolve()
    git_root = vcs.find_root(start)
    return start, git_root or start, git_root


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names, if it does not exist yet."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return None
    file = Path(url.removeprefix(prefix).split("?", 1)[0])
    return None if file.exists() else file


def _keep_store_out_of_git(folder: Path) -> None:
    """The default store lives in the work tree; a .gitignore keeps it from making it dirty."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        folder.mkdir(parents=True, exist_ok=True)
        ignore.write_text("# greenline's local store\n*\n")
