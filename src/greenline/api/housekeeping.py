"""Keeping the store's size in check: pruning old runs (by count, by age, or by the retention
settings), compacting the database afterwards, and saying how much room it takes."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from greenline.api.workspace import Workspace
from greenline.errors import UsageError
from greenline.model import PruneReport
from greenline.store import lookups

_AGE = re.compile(r"(\d+)\s*([dhw]?)")
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks"}


def parse_age(value: str, where: str = "--older-than") -> timedelta:
    """``30d``, ``12h``, ``2w`` or a number of days, as a timedelta."""
    match = _AGE.fullmatch(value.strip().lower())
    if not match or int(match.group(1)) > 36_500 * (24 if match.group(2) == "h" else 1):
        raise UsageError(
            f"{where} {value!r}: not an age", hint="a number of days, hours or weeks: 30d, 12h, 2w"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class HousekeepingService:
    """Pruning and sizing the workspace's store."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def prune(
        self,
        *,
        keep: int | None = None,
        older_than: timedelta | None = None,
        now: datetime,
        dry_run: bool = False,
        vacuum: bool = False,
    ) -> PruneReport:
        """Delete the repository's runs beyond the newest ``keep`` and (with ``older_than``)
        started before ``now - older_than``, with everything stored for them, in one
        transaction; a run still running and each branch's newest baseline run stay.
        ``dry_run`` deletes nothing and says what would go; ``vacuum`` compacts afterwards."""
        from greenline.store import retention

        if keep is None and older_than is None:
            raise UsageError(
                "nothing to prune by: neither a count of runs to keep nor an age",
                hint="greenline db prune --keep 200 (or --older-than 30d), or set retention_runs "
                "or retention_days under [tool.greenline]",
            )
        before = now - older_than if older_than is not None else None
        rule = _rule(keep, older_than)
        size_before = self.size(tables=False)["bytes"]
        if dry_run:
            with self.ws.store.read() as conn:
                doomed = retention.prunable_runs(conn, self.ws.repository, keep=keep, before=before)
                rows = retention.count_rows_of(conn, doomed)
            return PruneReport(tuple(doomed), rows, True, rule, bytes_before=size_before)
        with self.ws.store.write() as conn:
            doomed = retention.prunable_runs(conn, self.ws.repository, keep=keep, before=before)
            rows = retention.delete_runs(conn, doomed) if doomed else {"runs": 0}
        if vacuum:
            self.compact()
        return PruneReport(
            tuple(doomed),
            rows,
            False,
            rule,
            vacuumed=vacuum,
            bytes_before=size_before,
            bytes_after=self.size(tables=False)["bytes"],
        )

    def retention(self) -> tuple[int | None, timedelta | None]:
        """What the retention settings keep: (runs, age), each None when not set."""
        keep, days = self.ws.settings.retention_runs, self.ws.settings.retention_days
        return keep or None, timedelta(days=days) if days else None

    def apply_retention(self, now: datetime) -> PruneReport | None:
        """Prune by the retention settings (after a recording); None when neither is set."""
        keep, age = self.retention()
        if keep is None and age is None:
            return None
        return self.prune(keep=keep, older_than=age, now=now)

    def compact(self) -> None:
        """Give the room of deleted rows back to the file system (SQLite) or for reuse
        (PostgreSQL's VACUUM ANALYZE)."""
        from greenline.store import retention
        from greenline.store.engine import translate_errors

        file = lookups.sqlite_file(self.ws.store.url)
        if file is not None:
            with lookups.translate_sqlite_errors(self.ws.store.url):
                plain = sqlite3.connect(
                    file, isolation_level=None, timeout=self.ws.store.busy_timeout
                )
                try:
                    plain.execute("VACUUM")
                    plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    plain.close()
            return
        with (
            translate_errors(self.ws.store.url),
            self.ws.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
        ):
            retention.vacuum_postgresql(conn)

    def size(self, *, tables: bool = True) -> dict[str, Any]:
        """The store's bytes on disk (SQLite: the file with its write-ahead log; PostgreSQL:
        the database), and with ``tables`` each table's, where the database can say."""
        from greenline.store import retention

        file = lookups.sqlite_file(self.ws.store.url)
        with self.ws.store.read() as conn:
            total = retention.sqlite_size(file) if file else retention.postgresql_size(conn)
            return {**total, "tables": retention.table_sizes(conn)} if tables else total


def _rule(keep: int | None, older_than: timedelta | None) -> str:
    parts = []
    if keep is not None:
        parts.append(f"beyond the newest {keep} run" + ("" if keep == 1 else "s"))
    if older_than is not None:
        parts.append(f"older than {_age_text(older_than)}")
    return " and ".join(parts)


def _age_text(age: timedelta) -> str:
    if age.seconds == 0 and age.days:
        return f"{age.days} days"
    return f"{age.total_seconds() / 3600:g} hours"
