"""The facade's flaky-test half: verdicts from history, explanations, and quarantine."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from greenline.api.scanning import ScanApi
from greenline.errors import NoDataError, UsageError
from greenline.flaky import detect_flaky
from greenline.model import FlakyVerdict, Observation, QuarantineEntry, Verdict
from greenline.store import reads, writes

if TYPE_CHECKING:
    from greenline.config import Settings
    from greenline.store import Store

#: How many recent runs passive detection reads.
RUNS_BACK = 200


class FlakyApi(ScanApi):
    """Mixed into Greenline (which provides the store, the repository and the settings)."""

    store: Store
    repository: str
    settings: Settings

    def flaky_tests(self, *, include_stable: bool = False) -> list[FlakyVerdict]:
        """Every test's verdict from the last runs' history: flaky ones first."""
        with self.store.read() as conn:
            seen = reads.observations(conn, self.repository, RUNS_BACK)
        verdicts = detect_flaky(seen)
        if include_stable:
            return verdicts
        return [v for v in verdicts if v.verdict is not Verdict.STABLE]

    def explain_flaky(self, test_id: str) -> tuple[FlakyVerdict, list[QuarantineEntry]]:
        """One test's verdict from history (or, with no history, from its newest scan) with
        its evidence, and its quarantine history."""
        with self.store.read() as conn:
            seen = reads.observations(conn, self.repository, RUNS_BACK)
            entries = reads.quarantine_entries(conn, self.repository, test_id)
        mine = [o for o in seen if o.test_id == test_id]
        if not mine:
            scanned = self.scanned_verdict(test_id)
            if scanned is not None:
                return scanned[2], entries
            raise self._unknown_test(test_id, {o.test_id for o in seen})
        verdict = next(v for v in detect_flaky(mine) if v.test_id == test_id)
        return verdict, entries

    def quarantine_test(
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
        with self.store.read() as conn:
            known = set(reads.known_test_ids(conn, self.repository))
            open_entry = next(
                (
                    e
                    for e in reads.quarantine_entries(conn, self.repository, test_id)
                    if e.is_active(now)
                ),
                None,
            )
        if test_id not in known:
            raise self._unknown_test(test_id, known)
        if open_entry is not None:
            raise UsageError(
                f"{test_id} is already quarantined ({open_entry.reason})",
                hint=f"greenline flaky release '{test_id}' first to change it",
            )
        entry = QuarantineEntry(test_id, reason.strip(), owner, now, expires_at)
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, None)
            writes.insert_quarantine(conn, repo_id, entry)
        return entry

    def release_test(
        self, test_id: str, reason: str = "released by hand", now: datetime | None = None
    ) -> int:
        with self.store.write() as conn:
            repo_id = writes.ensure_repository(conn, self.repository, None)
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
        with self.store.read() as conn:
            entries = reads.quarantine_entries(conn, self.repository)
        return [e for e in entries if include_ended or e.is_active(now)]

    def active_quarantine(self, now: datetime | None = None) -> dict[str, QuarantineEntry]:
        """Quarantined tests now: released and expired entries do not count."""
        now = now or datetime.now(UTC)
        with self.store.read() as conn:
            entries = reads.quarantine_entries(conn, self.repository)
        return {e.test_id: e for e in reversed(entries) if e.is_active(now)}

    def release_recovered(self, now: datetime | None = None) -> list[str]:
        """Release quarantined tests whose last ``quarantine_release_after`` recorded runs all
        passed (a streak that ran since the quarantine began); returns their ids."""
        now = now or datetime.now(UTC)
        streak = self.settings.quarantine_release_after
        active = self.active_quarantine(now)
        if not active:
            return []
        with self.store.read() as conn:
            seen = reads.observations(conn, self.repository, max(streak * 4, RUNS_BACK))
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
                with self.store.write() as conn:
                    repo_id = writes.ensure_repository(conn, self.repository, None)
                    writes.release_quarantine(
                        conn, repo_id, test_id, now, f"passed {streak} recorded runs in a row"
                    )
                released.append(test_id)
        return released

    def _unknown_test(self, test_id: str, known: set[str]) -> NoDataError:
        close = difflib.get_close_matches(test_id, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "list tests with: greenline tests"
        return NoDataError(f"no results for test '{test_id}' in {self.repository}", hint=hint)
