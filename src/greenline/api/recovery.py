"""Recovery: why a run is red (triage), which commit broke it (the culprit search, probes run
through the executor in worktrees), and a verified revert on a branch of its own."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.queue import QueueService
from greenline.api.recovery_probes import Prober
from greenline.api.recovery_revert import build_revert
from greenline.api.recovery_triage import gather_triage, is_green
from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.errors import NoDataError, UsageError
from greenline.model import Run, RunStatus
from greenline.model.recovery import (
    CandidateCommit,
    CulpritReport,
    CulpritStatus,
    MainHealth,
    Probe,
    ProbeResult,
    RecoveryPath,
    RevertReport,
    TriageKind,
    TriageReport,
)
from greenline.recovery import CulpritSearch, triage_failures
from greenline.store import reads, writes
from greenline.store import recovery as stored

#: failing tests a probe runs at most (the search assumes one culprit)
PROBE_TESTS = 3
#: Progress: (what is running, probes done, test runs so far).
Progress = Callable[[str, int, int], None]


class RecoveryService:
    """Main is red: what broke it, is it real, what do we revert?"""

    def __init__(
        self, ws: Workspace, runs: RunService, flaky: FlakyService, queue: QueueService
    ) -> None:
        self.ws = ws
        self.runs = runs
        self.flaky = flaky
        self.queue = queue

    # -- triage ----------------------------------------------------------------------------
    def triage(self, run_id: int | None = None) -> TriageReport:
        """A verdict per failing test of the run (default: the newest on this branch)."""
        run = self.runs.get_run(run_id) if run_id is not None else self._newest_run()
        data, last_green, before = gather_triage(self.ws, self.runs, self.flaky, run)
        if not data.failures:
            raise NoDataError(
                f"run {run.id} has no failing tests: nothing to triage",
                hint="greenline runs lists the runs and their failures",
            )
        verdicts = tuple(triage_failures(data))
        return TriageReport(run.id, run.commit.sha, run.commit.branch, verdicts, last_green, before)

    def main_health(self) -> MainHealth:
        """The default branch: its newest run, the red streak up to it, the triage of it and
        what a culprit search of it found."""
        branch = vcs.default_branch(self.ws.root)
        history = self.runs.list_runs(limit=200, branch=branch)
        finished = [r for r in history if r.status is RunStatus.COMPLETE]
        if not finished:
            return MainHealth(branch, None, green=True)
        newest = finished[0]
        red = list(itertools.takewhile(lambda r: not is_green(r), finished))
        if not red:
            return MainHealth(branch, newest.id, green=True, last_green_run=newest.id)
        green = finished[len(red)] if len(red) < len(finished) else None
        try:
            report: TriageReport | None = self.triage(newest.id)
        except NoDataError:  # red by its exit status, yet no failing test stored
            report = None
        culprit, status = None, None
        with self.ws.store.read() as conn:
            found = stored.culprit_search_of(conn, self.ws.repository, newest.commit.sha or "")
        if found is not None:
            culprit, status = found[0], json.loads(found[1])["answer"]["status"]
        return MainHealth(
            branch,
            newest.id,
            False,
            len(red),
            red[-1].started_at.isoformat(),
            green.id if green else None,
            report,
            culprit,
            status,
        )

    def _newest_run(self) -> Run:
        branch = vcs.read_commit(self.ws.root).branch
        found = self.runs.list_runs(limit=1, branch=branch) if branch else []
        found = found or self.runs.list_runs(limit=1)
        if not found:
            raise NoDataError("no runs recorded yet", hint="greenline record (or import junit)")
        return found[0]

    def fix(
        self, *, runners: int = 2, confidence: float = 0.99, progress: Progress | None = None
    ) -> RecoveryPath:
        """The whole path for this branch's newest red run: triage, the culprit of its
        regressions since the last green run, and the revert proposal."""
        report = self.triage()
        tests = suspects(report)
        if not tests:
            kinds = ", ".join(sorted({v.kind.value for v in report.verdicts}))
            return RecoveryPath(report, stopped=f"no regression to search for ({kinds})")
        if report.last_green is None:
            raise NoDataError(
                f"no green run before run {report.run_id} to search from",
                hint="record a run on a commit where the suite passes, or use greenline "
                "culprit --good REV",
            )
        good = self.runs.get_run(report.last_green).commit.sha
        assert good is not None and report.commit is not None
        found = self.culprit(
            good, report.commit, tests, runners=runners, confidence=confidence, progress=progress
        )
        if found.culprit is None:
            return RecoveryPath(
                report, found, stopped=f"{found.answer.status.value}: {found.answer.reason}"
            )
        if found.fixed_later:
            return RecoveryPath(report, found, stopped="a later commit already fixed it")
        return RecoveryPath(report, found, self.revert(found.culprit.sha))

    # -- the culprit ---------------------------------------------------------------------------
    def culprit(
        self,
        good: str,
        bad: str = "HEAD",
        tests: Sequence[str] = (),
        *,
        runners: int = 2,
        confidence: float = 0.99,
        progress: Progress | None = None,
    ) -> CulpritReport:
        """Which first-parent commit in (good, bad] broke ``tests`` (default: the tests that
        failed in the newest run at ``bad``), or none (they are flaky), confirmed by probes."""
        if not 0.5 <= confidence < 1:
            raise UsageError(f"--confidence {confidence}: from 0.5 up to 1", hint="0.99")
        if runners < 1:
            raise UsageError(f"--runners {runners}: at least 1", hint="--runners 2")
        root = self.ws.root
        good_sha, bad_sha = self._range(good, bad)
        tests = list(tests) or self._failing_at(bad_sha)
        commits = vcs.first_parent_commits(root, good_sha, bad_sha)
        candidates = self._candidates(commits, tests)
        start = time.monotonic()
        probed = self._probe_set(tests)
        prober = Prober(self.ws, probed)
        search = CulpritSearch(
            candidates, confidence=confidence, known_flake_rate=self._flake_rate(probed)
        )
        shas = [c.sha for c in candidates]

        def run_probe(index: int) -> Probe:
            return Probe(index, prober.probe(good_sha if index < 0 else shas[index]))

        while batch := search.next_probes(runners):
            for probe in self.ws.executor.concurrently(run_probe, batch, runners):
                search.record(probe)
                if progress:
                    progress(
                        f"probing {shas[probe.index][:10] if probe.index >= 0 else 'good'}",
                        search.probes,
                        prober.runs,
                    )
        answer = search.answer()
        assert answer is not None
        report = CulpritReport(
            good_sha,
            bad_sha,
            tuple(tests),
            tuple(candidates),
            answer,
            prober.runs,
            round(time.monotonic() - start, 2),
            self._fixed_later(prober, bad_sha, answer.status),
            tuple(probed),
        )
        self._store(report)
        return report

    def _range(self, good: str, bad: str) -> tuple[str, str]:
        """The two revisions' commits, the good one an ancestor of the bad one."""
        root = self.ws.root
        good_sha, bad_sha = vcs.resolve_revision(root, good), vcs.resolve_revision(root, bad)
        if good_sha == bad_sha or not vcs.is_ancestor(root, good_sha, bad_sha):
            raise UsageError(
                f"{good} is not an ancestor of {bad}: (good, bad] is no range of history",
                hint="greenline culprit --good <a green commit> --bad <a later red one>",
            )
        return good_sha, bad_sha

    def _failing_at(self, sha: str) -> list[str]:
        """The failing tests of the newest run at ``sha`` that triage does not explain away
        (flaky, quarantined, infra, setup, already failing): what a culprit can have broken."""
        with self.ws.store.read() as conn:
            found = [
                r
                for r in reads.list_runs(conn, self.ws.repository, limit=200)
                if r.commit.sha == sha
            ]
        failing: list[str] = []
        if found:
            try:
                failing = suspects(self.triage(found[0].id))
            except NoDataError:
                failing = []
        if not failing:
            raise UsageError(
                f"no recorded run at {sha[:10]} has failing tests a commit can have broken",
                hint="name the failing tests: greenline culprit --good A --bad B TEST_ID...",
            )
        return failing

    def _probe_set(self, tests: Sequence[str]) -> list[str]:
        """The tests each probe runs: with one culprit, a few of its failing tests tell as
        much as all of them. Tests not known to be flaky first, then the fastest."""
        if len(tests) <= PROBE_TESTS:
            return list(tests)
        try:
            flaky = {v.test_id for v in self.flaky.verdicts()}
        except NoDataError:
            flaky = set()
        durations = {s.test_id: s.mean_duration for s in self.runs.list_tests()}
        ranked = sorted(tests, key=lambda t: (t in flaky, durations.get(t, float("inf")), t))
        return ranked[:PROBE_TESTS]

    def _candidates(
        self, commits: list[tuple[str, str, str]], tests: Sequence[str]
    ) -> list[CandidateCommit]:
        """The commits, each marked by whether it touched a file the tests ran (or their own
        files): coverage's prior. Without coverage every commit counts as touching them."""
        ran = self._files_ran(tests)
        out, parent = [], None
        for sha, subject, author in commits:
            changed = set(vcs.changed_files(self.ws.root, parent or f"{sha}^", sha))
            touches = ran is None or bool(changed & ran)
            out.append(CandidateCommit(sha, subject, author, touches))
            parent = sha
        return out

    def _files_ran(self, tests: Sequence[str]) -> set[str] | None:
        with self.ws.store.read() as conn:
            runs = list(reads.latest_baselines(conn, self.ws.repository))
            if not runs:
                return None
            coverage = reads.run_coverage(conn, runs[0].id)
            files = reads.run_file_reads(conn, runs[0].id)
        wanted = set(tests)
        ran = {b.path for tc in coverage if tc.test_id in wanted for b in tc.blocks}
        ran |= {f for t in wanted for f in files.get(t, ())}
        ran |= {t.split("::", 1)[0] for t in wanted}
        return ran

    def _flake_rate(self, tests: Sequence[str]) -> float | None:
        """The highest failure rate history knows for a flaky one of the tests."""
        try:
            verdicts = self.flaky.verdicts()
        except NoDataError:
            return None
        rates = [v.failures / v.runs for v in verdicts if v.test_id in tests and v.runs]
        return max(rates) if rates else None

    def _fixed_later(self, prober: Prober, bad: str, status: CulpritStatus) -> bool | None:
        """Does the branch head, past ``bad``, pass the tests again?"""
        head = vcs.resolve_revision(self.ws.root, "HEAD")
        if status is not CulpritStatus.FOUND or head == bad:
            return None
        if not vcs.is_ancestor(self.ws.root, bad, head):
            return None
        return prober.probe(head) is ProbeResult.PASSED

    def _store(self, report: CulpritReport) -> None:
        culprit = report.culprit
        doc = {"tests": list(report.tests), "answer": asdict(report.answer)}
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
            stored.insert_culprit_search(
                conn,
                repo_id,
                report.good,
                report.bad,
                culprit.sha if culprit else None,
                report.answer.confirmed,
                datetime.now(UTC),
                json.dumps(doc),
            )

    # -- the revert ------------------------------------------------------------------------------
    def revert(self, commit: str, *, force: bool = False, queue: bool = False) -> RevertReport:
        """A branch ``greenline/revert-<sha>`` that reverts ``commit`` on HEAD, verified: the
        failing tests pass there, and the tests of the files it changes stay green."""
        root = self.ws.root
        if vcs.read_commit(root).dirty:
            raise UsageError(
                "the work tree has uncommitted changes",
                hint="commit or stash them: the revert is built on HEAD as committed",
            )
        sha = vcs.resolve_revision(root, commit)
        tests = self._confirmed_tests(sha, force)
        message = vcs.commit_message(root, sha)
        if message.startswith("Revert ") or "This reverts commit" in message:
            raise UsageError(
                f"{sha[:10]} is itself a revert",
                hint="revert the commit it reverted, or re-apply it by hand",
            )
        return build_revert(self.ws, self.queue, sha, tests, queue)

    def _confirmed_tests(self, sha: str, force: bool) -> list[str]:
        with self.ws.store.read() as conn:
            found = stored.culprit_reports(conn, self.ws.repository, sha)
        confirmed = [json.loads(r)["tests"] for ok, r in found if ok]
        if confirmed:
            return list(confirmed[0])
        if force and found:
            return list(json.loads(found[0][1])["tests"])
        if force:
            raise UsageError(
                f"no culprit search named {sha[:10]}: no failing tests to verify the revert with",
                hint="greenline culprit --good <green> --bad <red> first",
            )
        raise UsageError(
            f"{sha[:10]} is not a confirmed culprit",
            hint="find it first: greenline culprit --good <green> --bad <red> (or --force)",
        )


def suspects(report: TriageReport) -> list[str]:
    """The failing tests a commit can have broken: regressions, and failures triage cannot
    explain otherwise."""
    wanted = (TriageKind.REGRESSION, TriageKind.UNKNOWN)
    return sorted(v.test_id for v in report.verdicts if v.kind in wanted)
