"""What triage needs from the store for one run: its failing tests, the last green run before
it and the run it is measured against, quarantine, known flaky tests and their signatures, other
runs on the same commit, and the changed files each failing test ran."""

from __future__ import annotations

from collections.abc import Iterable

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.model import Outcome, Run, RunStatus, TestResult, Verdict
from greenline.recovery import TriageInput, failure_signature
from greenline.store import reads

#: how far back triage looks for the runs it compares with
RUNS_BACK = 200
FAILED = (Outcome.FAILED, Outcome.ERROR)


def gather_triage(
    ws: Workspace, runs: RunService, flaky: FlakyService, run: Run
) -> tuple[TriageInput, int | None, int | None]:
    """The triage input for ``run``, the last green run's id and the compared run's id."""
    with ws.store.read() as conn:
        finals = reads.final_results(conn, run.id)
        history = reads.list_runs(conn, ws.repository, limit=RUNS_BACK)
    failures = [r for r in finals if r.outcome in FAILED]
    earlier = _earlier(ws, run, history)
    green = next((r for r in earlier if is_green(r)), None)
    before = next(iter(earlier), None)
    data = TriageInput(
        failures=failures,
        tests_in_run=len(finals),
        quarantined={t: e.reason for t, e in flaky.active_quarantine().items()},
        flaky=_flaky_signatures(runs, flaky, {f.test_id for f in failures}, run),
        before=_signatures(ws, before, FAILED) if before else {},
        before_label=_label(before) if before else "the baseline",
        passed_same_commit=_passed_same_commit(ws, run, history, failures),
        passed_last_green=frozenset(_signatures(ws, green, (Outcome.PASSED,)))
        if green
        else frozenset(),
        last_green_label=_label(green) if green else None,
        touched=_touched(ws, green, run, failures) if green else {},
        run_label=_label(run),
    )
    return data, green.id if green else None, before.id if before else None


def _label(run: Run) -> str:
    sha = (run.commit.sha or "")[:10]
    return f"run {run.id}" + (f" at {sha}" if sha else "")


def is_green(run: Run) -> bool:
    """A complete run with tests and no failure."""
    failed = run.counts.get("failed", 0) + run.counts.get("error", 0)
    return run.status is RunStatus.COMPLETE and failed == 0 and run.test_count > 0


def _earlier(ws: Workspace, run: Run, history: Iterable[Run]) -> list[Run]:
    """Complete runs before ``run`` on its history (a strict ancestor commit), newest first."""
    sha = run.commit.sha
    out = []
    for other in history:
        if other.id == run.id or other.status is not RunStatus.COMPLETE:
            continue
        if sha is None:  # no commits to go by: earlier runs of the same branch
            if other.started_at < run.started_at and other.commit.branch == run.commit.branch:
                out.append(other)
            continue
        other_sha = other.commit.sha
        if other_sha and other_sha != sha and vcs.is_ancestor(ws.root, other_sha, sha):
            out.append(other)
    return out


def _signatures(ws: Workspace, run: Run, outcomes: tuple[Outcome, ...]) -> dict[str, str]:
    """The final results of ``run`` with these outcomes, by test, as signatures."""
    with ws.store.read() as conn:
        finals = reads.final_results(conn, run.id)
    return {r.test_id: failure_signature(r.message) for r in finals if r.outcome in outcomes}


def _flaky_signatures(
    runs: RunService, flaky: FlakyService, failing: set[str], run: Run
) -> dict[str, frozenset[str]]:
    """Each known flaky failing test's flake signatures: how it failed on a commit where it
    also passed (a flake by definition), in runs other than the one triaged, so that a real
    regression's new failure never counts as one of its known ways to flake."""
    known = {v.test_id for v in flaky.verdicts() if v.verdict is Verdict.FLAKY}
    out = {}
    for test_id in sorted(known & failing):
        entries = [e for e in runs.test_history(test_id, limit=200) if e.run_id != run.id]
        passed_at = {e.sha for e in entries if e.result.outcome is Outcome.PASSED}
        out[test_id] = frozenset(
            failure_signature(e.result.message)
            for e in entries
            if e.result.outcome in FAILED and e.result.message and e.sha in passed_at
        )
    return out


def _passed_same_commit(
    ws: Workspace, run: Run, history: Iterable[Run], failures: list[TestResult]
) -> frozenset[str]:
    """Failing tests that passed on the same commit: another attempt or another run."""
    failing = {f.test_id for f in failures}
    with ws.store.read() as conn:
        attempts = reads.run_results(conn, run.id)
        passed = {r.test_id for r in attempts if r.outcome is Outcome.PASSED}
        for other in history:
            if other.id != run.id and run.commit.sha and other.commit.sha == run.commit.sha:
                passed |= {
                    r.test_id
                    for r in reads.final_results(conn, other.id)
                    if r.outcome is Outcome.PASSED
                }
    return frozenset(passed & failing)


def _touched(
    ws: Workspace, green: Run, run: Run, failures: list[TestResult]
) -> dict[str, list[str]]:
    """Per failing test, the files changed since the green run that it ran there (coverage,
    files read, its own file)."""
    if not (green.commit.sha and run.commit.sha):
        return {}
    changed = set(vcs.changed_files(ws.root, green.commit.sha, run.commit.sha))
    if not changed:
        return {}
    with ws.store.read() as conn:
        coverage = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, green.id, changed)}
        files = reads.run_file_reads(conn, green.id)
    out = {}
    for failure in failures:
        ran = {b.path for b in coverage.get(failure.test_id, ())}
        ran |= set(files.get(failure.test_id, ())) | {failure.test_id.split("::", 1)[0]}
        if ran & changed:
            out[failure.test_id] = sorted(ran & changed)
    return out
