"""Flaky tests: verdicts from history, explanations, quarantine, the active scan and verified
fixes (the scan and the fixer live in ``flaky_scan`` and ``flaky_fix``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from greenline import vcs
from greenline.api.derived import Derived
from greenline.api.flaky_diagnosis import diagnose
from greenline.api.flaky_fix import MIN_VERIFY_RUNS, VERIFY_RUNS, Fixer, FixResult, PatchVerdict
from greenline.api.flaky_scan import Progress, scan_flaky
from greenline.api.flaky_trials import ScanReport, report_from_json, report_to_json
from greenline.api.runs import RunService, unknown_test
from greenline.api.workspace import Workspace
from greenline.errors import InputError, NoDataError, UsageError
from greenline.flaky import detect_flaky
from greenline.flaky.fixes import FixError
from greenline.flaky.patches import patched_paths
from greenline.model import CommitInfo, FlakyVerdict, Observation, QuarantineEntry, Verdict
from greenline.store import lookups, reads, writes

#: How many recent runs passive detection reads.
RUNS_BACK = 200
#: a patch bigger than this is no fix for one flaky test
MAX_PATCH_CHARS = 1_000_000
JSONRow = dict[str, Any]


class FlakyService:
    """Which tests lie, why, and what is the fix."""

    def __init__(self, ws: Workspace, runs: RunService) -> None:
        self.ws = ws
        self.runs = runs
        self._derived = Derived()

    # -- verdicts from history ---------------------------------------------------------------
    def verdicts(self, *, include_stable: bool = False) -> list[FlakyVerdict]:
        """Every test's verdict from the last runs' history: flaky ones first.

        Without ``include_stable`` only the tests that failed in those runs are judged (a
        test that never failed there is stable whatever else it did), and the verdicts are
        kept until those runs, or their results, change."""
        return self.listing(include_stable=include_stable)[0]

    def listing(
        self, *, include_stable: bool = False, now: datetime | None = None
    ) -> tuple[list[FlakyVerdict], dict[str, QuarantineEntry]]:
        """``verdicts()`` and ``active_quarantine()`` together, read in one transaction (what
        ``flaky list`` and ``GET /api/v1/flaky`` show)."""
        now = now or datetime.now(UTC)
        with self.ws.store.lookup() as plain:
            window = tuple(lookups.recent_runs(plain, self.ws.repository, RUNS_BACK))
            entries = lookups.quarantine_entries(plain, self.ws.repository)
        active = {e.test_id: e for e in reversed(entries) if e.is_active(now)}
        if include_stable:
            with self.ws.store.read() as conn:
                seen = reads.observations(conn, self.ws.repository, RUNS_BACK)
            return detect_flaky(seen), active
        key = (self.ws.repository, window)
        found = self._derived.get("verdicts", key, lambda: self._unstable([w[0] for w in window]))
        return found, active

    def _unstable(self, run_ids: list[int]) -> list[FlakyVerdict]:
        """The flaky and failing tests' verdicts from the runs ``run_ids``."""
        with self.ws.store.read() as conn:
            failed = reads.failed_tests(conn, run_ids)
            seen = reads.observations(conn, self.ws.repository, 0, run_ids=run_ids, test_pks=failed)
        return [v for v in detect_flaky(seen) if v.verdict is not Verdict.STABLE]

    def explain(self, test_id: str) -> tuple[FlakyVerdict, list[QuarantineEntry]]:
        """One test's verdict from history (or, with no history, from its newest scan) with
        its evidence, and its quarantine history."""
        with self.ws.store.read() as conn:
            seen = reads.observations(conn, self.ws.repository, RUNS_BACK)
            entries = reads.quarantine_entries(conn, self.ws.repository, test_id)
        mine = [o for o in seen if o.test_id == test_id]
        if not mine:
            scanned = self.scanned_verdict(test_id)
            if scanned is not None:
                return scanned[2], entries
            raise unknown_test(test_id, {o.test_id for o in seen}, self.ws.repository)
        verdict = next(v for v in detect_flaky(mine) if v.test_id == test_id)
        return verdict, entries

    # -- quarantine ----------------------------------------------------------------------------
    def quarantine(
        self,
        test_id: str,
        reason: str,
        owner: str | None = None,
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> QuarantineEntry:
        """Quarantine a test the store knows: its failures stop failing the build."""
        now = now or datetime.now(UTC)
        if not reason.strip():
            raise UsageError("a quarantine needs a reason", hint='--reason "flaky: #123"')
        if expires_at is not None and expires_at <= now:
            raise UsageError(
                f"--expires {expires_at.isoformat()} is in the past",
                hint="a duration (14d, 12h) or a later date",
            )
        known = self.runs.known_test_ids()
        if test_id not in known:
            raise unknown_test(test_id, known, self.ws.repository)
        open_entry = self.active_quarantine(now).get(test_id)
        if open_entry is not None:
            raise UsageError(
                f"{test_id} is already quarantined ({open_entry.reason})",
                hint=f"greenline flaky release '{test_id}' first to change it",
            )
        entry = QuarantineEntry(test_id, reason.strip(), owner, now, expires_at)
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            writes.insert_quarantine(conn, repo_id, entry)
        return entry

    def release(
        self, test_id: str, reason: str = "released by hand", now: datetime | None = None
    ) -> int:
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, None)
            released = writes.release_quarantine(
                conn, repo_id, test_id, now or datetime.now(UTC), reason
            )
        if not released:
            raise NoDataError(
                f"{test_id} is not quarantined", hint="see the list: greenline flaky list"
            )
        return released

    def quarantine_list(self, *, include_ended: bool = False) -> list[QuarantineEntry]:
        now = datetime.now(UTC)
        with self.ws.store.lookup() as conn:
            entries = lookups.quarantine_entries(conn, self.ws.repository)
        return [e for e in entries if include_ended or e.is_active(now)]

    def active_quarantine(self, now: datetime | None = None) -> dict[str, QuarantineEntry]:
        """Quarantined tests now: released and expired entries do not count."""
        now = now or datetime.now(UTC)
        with self.ws.store.lookup() as conn:
            entries = lookups.quarantine_entries(conn, self.ws.repository)
        return {e.test_id: e for e in reversed(entries) if e.is_active(now)}

    def release_recovered(self, now: datetime | None = None) -> list[str]:
        """Release quarantined tests whose last ``quarantine_release_after`` recorded runs all
        passed (a streak that ran since the quarantine began); returns their ids."""
        now = now or datetime.now(UTC)
        streak = self.ws.settings.quarantine_release_after
        active = self.active_quarantine(now)
        if not active:
            return []
        with self.ws.store.read() as conn:
            seen = reads.observations(conn, self.ws.repository, max(streak * 4, RUNS_BACK))
        released = []
        for test_id, entry in active.items():
            finals: dict[int, Observation] = {}  # the last attempt in each run since then
            for o in seen:
                if o.test_id != test_id or o.started_at < entry.created_at:
                    continue
                if o.run_id not in finals or o.attempt > finals[o.run_id].attempt:
                    finals[o.run_id] = o
            recent = sorted(finals.values(), key=lambda o: (o.started_at, o.run_id))[-streak:]
            if len(recent) == streak and not any(o.outcome.is_failure for o in recent):
                self.release(test_id, f"passed {streak} recorded runs in a row", now)
                released.append(test_id)
        return released

    # -- scans and fixes -------------------------------------------------------------------------
    def scan(
        self,
        test_ids: Sequence[str] = (),
        *,
        runs: int = 10,
        budget_seconds: float | None = None,
        workers: int = 1,
        pytest_args: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> ScanReport:
        """Rerun the suite and judge each test (see ``flaky_scan.scan_flaky``)."""
        return scan_flaky(
            self.ws,
            test_ids,
            runs=runs,
            budget_seconds=budget_seconds,
            workers=workers,
            pytest_args=pytest_args,
            progress=progress,
        )

    def stored_scan(self, test_id: str) -> tuple[datetime, ScanReport] | None:
        """The newest scan of the checked-out commit (clean tree) that judged ``test_id``."""
        commit = vcs.read_commit(self.ws.root)
        if commit.sha is None or commit.dirty:
            return None
        found = self._scans_with(test_id, commit.sha)
        return (found[0], found[2]) if found else None

    def scanned_verdict(self, test_id: str) -> tuple[datetime, str | None, FlakyVerdict] | None:
        """The newest stored scan's verdict on ``test_id`` (any commit): when, at which
        commit, and what it found."""
        found = self._scans_with(test_id, None)
        if found is None:
            return None
        started_at, sha, report = found
        return started_at, sha, next(v for v in report.verdicts if v.test_id == test_id)

    def _scans_with(
        self, test_id: str, sha: str | None
    ) -> tuple[datetime, str | None, ScanReport] | None:
        with self.ws.store.read() as conn:
            scans = reads.recent_flaky_scans(conn, self.ws.repository, sha)
        for started_at, scan_sha, text in scans:
            report = report_from_json(text)
            if any(v.test_id == test_id for v in report.verdicts):
                return started_at, scan_sha, report
        return None

    def diagnosis(self, test_id: str) -> dict[str, Any] | None:
        """What its newest scan (any commit) says a fix needs (``flaky_diagnosis``); None when
        no scan judged the test."""
        found = self._scans_with(test_id, None)
        if found is None:
            return None
        started_at, sha, report = found
        verdict = next(v for v in report.verdicts if v.test_id == test_id)
        at = sha[:10] if sha else "no commit"
        scanned = f"the scan of {started_at:%Y-%m-%d %H:%M} UTC at {at} ({report.trials} runs)"
        return diagnose(self.ws, verdict, report, scanned)

    def _remember(
        self,
        started_at: datetime | None,
        report: ScanReport,
        test_id: str,
        tried: JSONRow,
        commit: CommitInfo,
    ) -> None:
        """Keep what fixing ``test_id`` tried with its scan (a new row of the same scan: the
        newest row is the one read), for ``diagnosis``."""
        if started_at is None:
            return
        fixes = {**report.fixes, test_id: (*report.fixes.get(test_id, ()), tried)}
        kept = replace(report, fixes=fixes)
        with self.ws.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.ws.repository, str(self.ws.root))
            writes.insert_flaky_scan(
                conn,
                repo_id,
                commit,
                started_at,
                report.trials,
                report.seconds,
                report_to_json(kept),
            )

    def _root_cause(
        self, test_id: str, rescan: bool, workers: int, progress: Progress | None
    ) -> tuple[FlakyVerdict, ScanReport, str, datetime | None]:
        """The test's verdict from the newest scan of this commit (or a new scan), the scan,
        which scan it was and when it started (None: not stored); a test that is not flaky
        there has nothing to fix."""
        stored = None if rescan else self.stored_scan(test_id)
        started: datetime | None
        if stored is not None:
            started, report = stored
            source = f"the scan of {started:%Y-%m-%d %H:%M} UTC ({report.trials} runs)"
        else:
            report = self.scan([test_id], runs=10, workers=workers, progress=progress)
            source = f"a new scan ({report.trials} runs)"
            again = self.stored_scan(test_id)
            started = again[0] if again else None
        verdict = next(v for v in report.verdicts if v.test_id == test_id)
        if verdict.verdict is not Verdict.FLAKY:
            raise NoDataError(
                f"{test_id} is {verdict.verdict.value} in {verdict.runs} runs: nothing to fix",
                hint=f"judged by {source}. A test that fails every time is a real failure; "
                "one that never failed needs more runs: greenline flaky scan --runs 50",
            )
        return verdict, report, source, started

    def verify_patch(
        self,
        test_id: str,
        diff: str,
        *,
        workers: int = 2,
        verify_runs: int = VERIFY_RUNS,
        progress: Progress | None = None,
    ) -> PatchVerdict:
        """Prove a fix written by anyone (a unified diff): it applies, weakens nothing, passes
        ``verify_runs`` runs under the condition that made the test fail, and the whole suite
        still passes. Nothing in the work tree changes."""
        _check_verify_runs(verify_runs)
        if len(diff) > MAX_PATCH_CHARS:
            raise InputError(
                f"the patch has {len(diff):,} characters, over {MAX_PATCH_CHARS:,}",
                hint="a fix for one flaky test is small: pass only its diff",
            )
        try:
            paths = patched_paths(diff)
        except FixError as exc:
            raise InputError(f"the patch: {exc}", hint="pass a unified diff (git diff)") from None
        verdict, report, source, started = self._root_cause(test_id, False, workers, progress)
        reference = {t: o for t, o in report.reference.items() if t not in report.unreliable}
        if progress:
            progress("verifying the patch", 0, verify_runs)
        failure = Fixer(self.ws, workers, verify_runs).verify_diff(diff, verdict, reference)
        tried = {
            "at": _now(),
            "by": "flaky verify",
            "paths": paths,
            "verified": failure is None,
            "tried": [f"the patch: {failure}"] if failure else [],
        }
        self._remember(started, report, test_id, tried, vcs.read_commit(self.ws.root))
        return PatchVerdict(verdict, tuple(paths), failure is None, failure, verify_runs, source)

    def fix(
        self,
        test_id: str,
        *,
        apply: bool = False,
        workers: int = 2,
        rescan: bool = False,
        verify_runs: int = VERIFY_RUNS,
        progress: Progress | None = None,
    ) -> FixResult:
        """Take the test's root cause from the newest scan of this commit (or scan it now),
        synthesise patches for it, verify each (``verify_runs`` runs under its failing
        condition, then the whole suite) and return the first that holds."""
        _check_verify_runs(verify_runs)
        verdict, report, source, started = self._root_cause(test_id, rescan, workers, progress)
        commit = vcs.read_commit(self.ws.root)  # before --apply changes the work tree
        result = Fixer(self.ws, workers, verify_runs).fix(verdict, report, source, apply, progress)
        tried = {
            "at": _now(),
            "by": "flaky fix",
            "verified": result.patch is not None,
            "patch": result.patch.description if result.patch else None,
            "tried": list(result.tried),
        }
        if not commit.dirty:
            self._remember(started, report, test_id, tried, commit)
        return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_verify_runs(verify_runs: int) -> None:
    if verify_runs < MIN_VERIFY_RUNS:
        raise UsageError(
            f"--verify-runs {verify_runs}: too few to call a patch verified",
            hint=f"at least {MIN_VERIFY_RUNS} (the default, {VERIFY_RUNS}, is the proof "
            "greenline stands behind)",
        )
