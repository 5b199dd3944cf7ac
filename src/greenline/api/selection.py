"""Selection: the baseline a change is judged against, the plan of what it can break (ranked,
within a budget), and the learned ranking's examples and models.

Planning reads through ``store.lookups`` alone (``greenline select`` must answer at once);
SQLAlchemy loads only for what learning reads and writes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from greenline import vcs
from greenline.api.derived import CommitFacts, Derived
from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.errors import GreenlineError, NoDataError
from greenline.model import (
    Change,
    Environment,
    FileChange,
    FileStatus,
    Outcome,
    Run,
    SelectionPlan,
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
from greenline.selection.impact import (
    BaselineIndex,
    changed_paths,
    index_baseline,
    python_paths,
)
from greenline.selection.learn import Example, TreeEnsemble
from greenline.selection.ranking import FEATURES, History
from greenline.store import lookups
from greenline.store.lookups import SqlConnection
from greenline.tracing import read_file_blocks
from greenline.tracing.environment import read_environment

#: how many recent runs the ranking's failure history reads
RECENT_RUNS = 20


#: a baseline run's outcomes, durations and paths by test, coverage sizes, file reads and
#: the suite-wide facts selection reads of them
_BaselineRows = tuple[
    dict[str, Outcome],
    dict[str, float],
    dict[str, str | None],
    dict[str, int],
    dict[str, frozenset[str]],
    BaselineIndex,
]


class SelectionService:
    """Which tests a change can break, and in which order to run them."""

    def __init__(self, ws: Workspace, runs: RunService) -> None:
        self.ws = ws
        self.runs = runs
        self._derived = Derived(keep=16)
        self._commits = CommitFacts(ws.root)

    def find_baseline(self, base: str | None = None, *, within: str = "HEAD") -> Run:
        """The run a change is judged against: the newest complete run with coverage at commit
        ``base``, or (without one) at ``within`` (HEAD) or one of its ancestors."""
        return self.runs.get_run(self._baseline_run(base, within).id)

    def _baseline_run(self, base: str | None, within: str = "HEAD") -> Run:
        """The baseline run, without the counts and duration planning does not use."""
        self.runs.sweep_if_needed()
        wanted = self._commits.resolve(base) if base else None
        head = within if within == "HEAD" else self._commits.resolve(within)
        with self.ws.store.lookup() as conn:
            candidates = lookups.latest_baselines(conn, self.ws.repository)
        for run in candidates:
            sha = run.commit.sha
            if sha and (sha == wanted if wanted else self._commits.is_ancestor(sha, head)):
                return run
        where = (
            f"at {base}"
            if base
            else "on this branch's history"
            if within == "HEAD"
            else f"at {within[:12]} or its ancestors"
        )
        raise NoDataError(
            f"no baseline: no complete run with coverage {where}",
            hint="record one on the base commit: greenline record (then select against it)",
        )

    def plan(
        self, base: str | None = None, budget: Budget | None = None, *, learned: bool = True
    ) -> SelectionPlan:
        """Which tests the working tree's change (since the baseline) can break, and why;
        with a budget, only as many as fit (in order). ``learned=False`` ranks with the
        heuristic even when a learned model is in use (to compare the two)."""
        run = self._baseline_run(base)
        assert run.commit.sha is not None
        change = vcs.read_change(self.ws.root, run.commit.sha)
        source = _WorkTree(self.ws.root)
        plan = self._plan(run, change, source, read_environment(), learned=learned)
        return limit_to_budget(plan, budget) if budget is not None else plan

    def plan_within(self, within: str) -> SelectionPlan:
        """The plan for the working tree's change against the newest baseline at commit
        ``within`` or one of its ancestors (a review judges a change against its base, never
        against a run recorded on the change itself)."""
        run = self._baseline_run(None, within=vcs.resolve_revision(self.ws.root, within))
        assert run.commit.sha is not None
        change = vcs.read_change(self.ws.root, run.commit.sha)
        return self._plan(run, change, _WorkTree(self.ws.root), read_environment())

    def plan_change(
        self,
        base: str,
        *,
        diff: str | None = None,
        changed_files: Sequence[str] = (),
        environment: Environment | None = None,
        budget: Budget | None = None,
    ) -> SelectionPlan:
        """The plan for a change given as data (a CI job's, sent to the team server): commit
        ``base`` with ``diff`` (a unified diff, as ``git diff`` prints it) applied, or with the
        files ``changed_files`` names changed in ways not given (every block the baseline
        recorded in one of them counts as changed). It is judged against the newest baseline
        at ``base`` or one of its ancestors; ``environment`` is the job's (None: not compared).
        Nothing in the repository, its index or its work tree is written."""
        sha = self._commits.resolve(base)
        run = self._baseline_run(None, within=sha)
        assert run.commit.sha is not None
        unknown = frozenset(changed_files)
        key = (sha, hashlib.sha256((diff or "").encode()).hexdigest(), unknown, environment)

        def derive() -> SelectionPlan:
            with vcs.scratch_tree(self.ws.root, sha, diff) as tree:
                change = tree.change_since(str(run.commit.sha))
                if unknown:
                    change = _with_unknown(change, unknown, tree.files())
                return self._plan(run, change, tree, environment, unknown=unknown)

        # the same change asked again (a CI job's shards, a retry) while the baseline, the
        # recent history and the ranking model are the same gets the plan made for it
        plan = self._derived.get("plan", (key, self._judging_state(run)), derive)
        return limit_to_budget(plan, budget) if budget is not None else plan

    def _judging_state(self, run: Run) -> tuple[object, ...]:
        """What the plan for a change against ``run`` depends on in the store: the baseline's
        results, the recent runs and the newest ranking model."""
        with self.ws.store.lookup() as conn:
            baseline = lookups.fetch_rows(
                conn, "SELECT status, result_rows FROM runs WHERE id = :id", {"id": run.id}
            )
            window = lookups.recent_runs(conn, self.ws.repository, RECENT_RUNS)
            ranker = lookups.fetch_rows(
                conn,
                "SELECT max(rankers.id) FROM rankers JOIN repositories "
                "ON rankers.repository_id = repositories.id WHERE repositories.name = :repository",
                {"repository": self.ws.repository},
            )
        return (run.id, tuple(baseline[0]) if baseline else None, tuple(window), ranker[0][0])

    def plan_merge_group(self, base: str, head: str) -> SelectionPlan:
        """The tests to run for a merge group (GitHub's merge queue): what its head changes
        on top of its base (the pull requests in the group), judged against the newest
        baseline at the base or before it. Both commits are fetched from origin if need be."""
        for sha in (base, head):
            if not vcs.fetch_commit(self.ws.root, sha):
                raise NoDataError(
                    f"commit {sha[:12]} of the merge group is not in {self.ws.root}",
                    hint="fetch it (git fetch origin), or check the merge group's shas",
                )
        diff = vcs.diff_between(self.ws.root, base, head)
        return self.plan_change(base, diff=diff)

    def _plan(
        self,
        run: Run,
        change: Change,
        source: _Source,
        environment: Environment | None,
        *,
        learned: bool = True,
        unknown: frozenset[str] = frozenset(),
    ) -> SelectionPlan:
        """The plan for ``change`` against baseline ``run``, the files as ``source`` has them
        (the paths in ``unknown`` excepted: their content is not known)."""
        baseline, history, ranker = self._judging(run, change, learned)
        stale = python_paths(change)
        paths = {f.path for f in change.files if (f.old_path or f.path) in stale}
        texts = source.read_texts(sorted(paths - unknown))
        current = {path: _blocks_of(text, path) for path, text in texts.items()}
        for f in change.files:
            if f.path in unknown and f.path in paths:  # blocks are recorded under the old name
                current[f.path] = _every_block_changed(baseline, f.old_path or f.path)
        importers = self._importers(import_paths(baseline, change, current), change, source)
        return plan_selection(
            baseline,
            change,
            current,
            environment,
            importers,
            always_run=self.ws.settings.always_run,
            history=history,
            model=ranker,
        )

    def _judging(
        self, run: Run, change: Change, learned: bool
    ) -> tuple[Baseline, History, tuple[str, TreeEnsemble] | None]:
        """What the store holds for judging ``change``: the baseline run's outcomes, durations
        and coverage of the changed files, the recent history and the ranking model."""
        with self.ws.store.lookup() as conn:
            outcomes, durations, paths, sizes, files, index = self._baseline_rows(conn, run.id)
            wanted = changed_paths(change)
            coverage = {tc.test_id: tc.blocks for tc in lookups.run_coverage(conn, run.id, wanted)}
            import_time = lookups.run_import_coverage(conn, run.id, wanted)
            failures, taken = self._recent_outcomes(conn)
            ranker = self._ranker(conn) if learned else None
        baseline = Baseline(
            run_id=run.id,
            base=run.commit.sha,
            environment=run.environment,
            coverage=coverage,
            outcomes=outcomes,
            durations=durations,
            paths=paths,
            files=files,
            coverage_sizes=sizes,
            import_time=import_time,
            prepared=index,
        )
        return baseline, History(failures, taken), ranker

    def _baseline_rows(self, conn: SqlConnection, run_id: int) -> _BaselineRows:
        """The baseline run's final outcomes, durations and paths by test, its coverage sizes
        and file reads: the same for every change judged against it, so kept while the run's
        results are (a baseline is a complete run, and its coverage and file reads are stored
        with its results)."""
        rows = lookups.fetch_rows(
            conn, "SELECT status, result_rows FROM runs WHERE id = :id", {"id": run_id}
        )
        key = (run_id, *rows[0]) if rows else (run_id,)

        def read() -> _BaselineRows:
            finals = lookups.final_rows(conn, run_id)
            outcomes = {r[0]: lookups.outcome_of(r[1]) for r in finals}
            durations = {r[0]: r[2] for r in finals}
            paths = {r[0]: r[6] for r in finals}
            sizes = lookups.coverage_sizes(conn, run_id)
            suite = Baseline(
                run_id, None, None, {}, outcomes, durations, paths, coverage_sizes=sizes
            )
            files = lookups.run_file_reads(conn, run_id)
            return outcomes, durations, paths, sizes, files, index_baseline(suite)

        return self._derived.get("baseline", key, read)

    def _recent_outcomes(self, conn: SqlConnection) -> tuple[dict[str, int], dict[str, int]]:
        """``lookups.recent_outcomes`` of the repository, kept while its recent runs are the
        same (and hold the same results)."""
        window = tuple(lookups.recent_runs(conn, self.ws.repository, RECENT_RUNS))
        return self._derived.get(
            "recent_outcomes",
            (self.ws.repository, window),
            lambda: lookups.recent_outcomes(conn, self.ws.repository, RECENT_RUNS),
        )

    def _ranker(self, conn: SqlConnection) -> tuple[str, TreeEnsemble] | None:
        """The newest learned ranking model, if one was adopted (else the heuristic ranks)."""
        found = lookups.latest_ranker(conn, self.ws.repository)
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

    def _importers(
        self, paths: list[str], change: Change, source: _Source
    ) -> dict[str, dict[str, str]] | None:
        """For each path, the project files importing it (read only when there is a path)."""
        if not paths:
            return None
        texts = source.read_texts(source.python_files())
        sources = {path: text for path, text in texts.items() if text is not None}
        for f in change.files:  # deleted modules still have importers
            sources.setdefault(f.old_path or f.path, "")
        graph = ImportGraph(sources)
        old_names = {f.path: f.old_path for f in change.files if f.old_path}
        reached = {path: graph.reached_from(path) for path in paths}
        for path, old in old_names.items():  # importers of the old name break too
            if path in reached and old:
                reached[path] = {**graph.reached_from(old), **reached[path]}
        return reached

    # -- learning the ranking ----------------------------------------------------------------
    def note_affected_tests(self, run_id: int) -> int:
        """Store which tests the change of a run being recorded affects, with their ranking
        features: the examples ranking learns from once the run's outcomes are in. Returns how
        many (0 without a baseline, or when everything must run)."""
        try:
            plan = self.plan()
        except GreenlineError:
            return 0
        if plan.full_suite is not None or not plan.selected:
            return 0
        # the tests exist already: the baseline ran them
        rows = [(t.test_id, None, t.likelihood, t.features) for t in plan.selected]
        from greenline.store import writes

        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            writes.insert_selection_features(conn, run_id, repo_id, rows)
        return len(rows)

    def ranking_examples(self) -> list[Example]:
        from greenline.store import reads

        with self.ws.store.read() as conn:
            rows = reads.selection_examples(conn, self.ws.repository)
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
        from greenline.store import writes

        examples = self.ranking_examples()
        if only_if_grown is not None:
            if not learn.enough(examples) or importlib.util.find_spec("sklearn") is None:
                return None
            with self.ws.store.lookup() as conn:
                last = lookups.latest_ranker(conn, self.ws.repository)
            if last is not None:
                before = int(json.loads(last[2]).get("examples", 0))
                if len(examples) < before * (1 + only_if_grown):
                    return None
        doc = learn.train(examples)
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            doc["id"] = writes.insert_ranker(conn, repo_id, doc, datetime.now(UTC))
        return doc

    def ranking_model(self) -> dict[str, Any] | None:
        """The newest learned model's document (None before any)."""
        with self.ws.store.lookup() as conn:
            found = lookups.latest_ranker(conn, self.ws.repository)
        if found is None:
            return None
        ranker_id, created, text = found
        doc: dict[str, Any] = json.loads(text)
        doc.update(id=ranker_id, created_at=created.isoformat())
        return doc


class _Source(Protocol):
    """Where a plan reads the files of the tree it judges."""

    def read_texts(self, paths: Iterable[str]) -> dict[str, str | None]: ...

    def python_files(self) -> list[str]: ...


@dataclass(frozen=True)
class _WorkTree:
    """The files as they are on disk (``greenline select`` in a checkout)."""

    root: Path

    def read_texts(self, paths: Iterable[str]) -> dict[str, str | None]:
        texts: dict[str, str | None] = {}
        for path in paths:
            try:
                texts[path] = (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                texts[path] = None
        return texts

    def python_files(self) -> list[str]:
        return vcs.list_python_files(self.root)


def _blocks_of(text: str | None, path: str) -> frozenset[tuple[str, str]] | None:
    """(name, checksum) of each block of a file's text; None if gone or unparsable."""
    if text is None:
        return None
    try:
        blocks = read_file_blocks(text, path.rsplit("/", 1)[-1], branches=True)
    except (SyntaxError, ValueError):
        return None
    # at both granularities, so that each recorded block is judged like with like whatever the
    # baseline's granularity (a root region has its function's name; it has its function's
    # checksum too only when the code is the same)
    return frozenset((b.name, b.checksum) for b in (*blocks.blocks, *blocks.branch_blocks))


def _every_block_changed(baseline: Baseline, path: str) -> frozenset[tuple[str, str]]:
    """A file whose new content is not known: each block the baseline ran in it, under its
    name with no checksum it could have, so that every one of them counts as changed."""
    recorded = [*baseline.coverage.values(), *baseline.import_time.values()]
    return frozenset((b.name, "") for blocks in recorded for b in blocks if b.path == path)


def _with_unknown(change: Change, paths: frozenset[str], present: set[str]) -> Change:
    """``change`` with each of ``paths`` changed too: modified when the tree has it (or the
    change deleted it), else added."""
    files = {f.path: f for f in change.files}
    for path in sorted(paths):
        known = files.get(path)
        if known is None:
            status = FileStatus.MODIFIED if path in present else FileStatus.ADDED
            files[path] = FileChange(path, status)
        elif known.status is FileStatus.DELETED:
            files[path] = replace(known, status=FileStatus.MODIFIED)
    return Change(base=change.base, files=tuple(files.values()))
