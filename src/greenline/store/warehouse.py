"""The delivery warehouse: workflow runs and jobs as Parquet files, one folder per month,
queried with DuckDB. Times are stored in UTC.

A manifest names the live files. An ingest writes new files, then replaces the manifest in one
rename, then deletes what it superseded: a crash leaves the previous manifest (and some unnamed
files, removed by the next ingest), never half an ingest. A record's key is
``(provider, repository, run_id, attempt)`` (jobs add ``job_id``); an incoming record equal to
the stored one changes nothing, a different one replaces it, so re-ingesting is idempotent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenline.errors import InputError, StoreError
from greenline.model.delivery import WorkflowJob, WorkflowRun, utc_naive
from greenline.store.reads import as_utc

if TYPE_CHECKING:
    import duckdb

RUN_COLUMNS = {
    "provider": "VARCHAR",
    "repository": "VARCHAR",
    "workflow": "VARCHAR",
    "run_id": "VARCHAR",
    "attempt": "INTEGER",
    "branch": "VARCHAR",
    "default_branch": "BOOLEAN",
    "conclusion": "VARCHAR",
    "created_at": "TIMESTAMP",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "event": "VARCHAR",
    "commit": "VARCHAR",
    "workflow_id": "VARCHAR",  # added later: files and tables without it read it as NULL
}
#: run columns a bulk table may leave out
OPTIONAL_RUN_COLUMNS = ("workflow_id",)
JOB_COLUMNS = {
    "provider": "VARCHAR",
    "repository": "VARCHAR",
    "run_id": "VARCHAR",
    "attempt": "INTEGER",
    "job_id": "VARCHAR",
    "name": "VARCHAR",
    "conclusion": "VARCHAR",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
}
KEYS = {
    "runs": ("provider", "repository", "run_id", "attempt"),
    "jobs": ("provider", "repository", "run_id", "attempt", "job_id"),
}
COLUMNS = {"runs": RUN_COLUMNS, "jobs": JOB_COLUMNS}
CONCLUSIONS = ("success", "failure", "infra_failure", "cancelled", "skipped", "running")
#: DuckDB's memory ceiling: big histories spill to disk instead of growing without bound
MEMORY_LIMIT = "2GB"


@dataclass(frozen=True, slots=True)
class IngestCount:
    added: int  # keys not stored before
    replaced: int  # keys stored before, with different values
    unchanged: int  # records equal to what was stored


def connect_duckdb(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    try:
        import duckdb
    except ImportError:
        raise StoreError(
            "delivery insights need DuckDB, which is not installed",
            hint="pip install 'greenline[insights]'",
        ) from None
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    # DuckDB draws a progress bar on stdout for long queries: it would break --format json
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


class Warehouse:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / "manifest.json"

    # -- reading ---------------------------------------------------------------------------
    def manifest(self) -> dict[str, list[str]]:
        if not self.manifest_path.exists():
            return {"runs": [], "jobs": []}
        doc = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return {"runs": list(doc.get("runs", [])), "jobs": list(doc.get("jobs", []))}

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create views ``runs`` and ``jobs`` over the live files (empty when there are none)."""
        manifest = self.manifest()
        for table, columns in COLUMNS.items():
            files = [str(self.root / f) for f in manifest[table]]
            if files:
                # by name: files written before a column was added read it as NULL
                source = f"read_parquet({_sql_list(files)}, union_by_name = true)"
                con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {source}")
            else:
                con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM ({_empty(columns)})")

    def newest(self, provider: str, repository: str) -> datetime | None:
        """When the newest stored run of ``repository`` was created (for incremental fetches)."""
        con = connect_duckdb()
        self.attach(con)
        row = con.execute(
            "SELECT max(created_at) FROM runs WHERE provider = ? AND repository = ?",
            [provider, repository],
        ).fetchone()
        return as_utc(row[0]) if row and row[0] is not None else None

    # -- writing ---------------------------------------------------------------------------
    def ingest(
        self, runs: Iterable[WorkflowRun], jobs: Iterable[WorkflowJob] = ()
    ) -> dict[str, IngestCount]:
        """Store model records (from an API or greenline's own runs)."""
        with self._scratch() as scratch:
            run_file = _write_jsonl(scratch / "runs.jsonl", (_run_row(r) for r in runs))
            job_file = _write_jsonl(scratch / "jobs.jsonl", (_job_row(j) for j in jobs))
            sources = {
                "runs": _json_source(run_file, RUN_COLUMNS),
                "jobs": _json_source(job_file, JOB_COLUMNS),
            }
            return self._merge(sources)

    def ingest_table(self, path: Path) -> dict[str, IngestCount]:
        """Bulk ingest of runs from a Parquet or CSV file with the warehouse's run columns."""
        suffix = path.suffix.lower()
        if not path.exists():
            raise InputError(f"{path}: no such file", hint="check the path")
        if suffix not in (".parquet", ".csv"):
            raise InputError(
                f"{path}: bulk ingest reads .parquet or .csv files",
                hint="for API responses use greenline insights ingest github|circleci",
            )
        con = connect_duckdb()
        try:
            present = _table_columns(con, path)
        finally:
            con.close()
        columns = {k: v for k, v in RUN_COLUMNS.items() if k in present}
        if suffix == ".parquet":
            source = f"read_parquet('{_quote(path)}')"
        else:
            # read_csv's columns are positional: the file's own order, typed where known
            types = ", ".join(f"'{_quote(k)}': '{RUN_COLUMNS.get(k, 'VARCHAR')}'" for k in present)
            source = f"read_csv('{_quote(path)}', header = true, columns = {{{types}}})"
        casts = ", ".join(
            f"CAST({_q(k) if k in columns else 'NULL'} AS {v}) AS {_q(k)}"
            for k, v in RUN_COLUMNS.items()
        )
        return self._merge({"runs": f"SELECT {casts} FROM {source}"})

    def _merge(self, sources: dict[str, str]) -> dict[str, IngestCount]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            con = connect_duckdb()
            self.attach(con)
            manifest = self.manifest()
            counts: dict[str, IngestCount] = {}
            written: list[str] = []
            removed: list[str] = []
            try:
                for table, source in sources.items():
                    count, new_files, gone = self._merge_table(con, table, source, manifest[table])
                    counts[table] = count
                    written += new_files
                    removed += gone
                    manifest[table] = [f for f in manifest[table] if f not in gone] + new_files
            except Exception as exc:
                for name in written:
                    (self.root / name).unlink(missing_ok=True)
                if type(exc).__module__.startswith("duckdb"):
                    raise InputError(f"the records cannot be stored: {exc}") from None
                raise
            finally:
                con.close()
            if written or removed:
                self._replace_manifest(manifest)
                for name in removed:
                    (self.root / name).unlink(missing_ok=True)
            self._sweep(manifest)
            return counts

    def _merge_table(
        self, con: duckdb.DuckDBPyConnection, table: str, source: str, live: list[str]
    ) -> tuple[IngestCount, list[str], list[str]]:
        keys = ", ".join(_q(k) for k in KEYS[table])
        columns = ", ".join(_q(k) for k in COLUMNS[table])
        # one pass over the incoming records: are they valid, and are their keys distinct?
        # (distinct hashes prove distinct keys; a collision only sends them the careful way)
        invalid = (
            f"count(*) FILTER (WHERE conclusion NOT IN {tuple(CONCLUSIONS)} "
            "OR created_at IS NULL OR run_id IS NULL OR repository IS NULL)"
            if table == "runs"
            else "0"
        )
        row = con.execute(
            f"SELECT count(*), {invalid}, count(DISTINCT hash({keys})) FROM ({source})"
        ).fetchone()
        total, bad, distinct = row if row else (0, 0, 0)
        if bad:
            raise InputError(
                f"{bad} run record(s) lack a key or a creation time, or have an unknown "
                f"conclusion (one of {', '.join(CONCLUSIONS)})",
                hint="nothing was stored; fix the file and ingest it again",
            )
        stored = f"(SELECT {columns} FROM {table})"
        if distinct == total and not (
            live
            and _scalar(con, f"SELECT count(*) FROM ({source}) SEMI JOIN {stored} USING ({keys})")
        ):
            # every record is new: written straight from the source, never held in memory
            return IngestCount(total, 0, 0), self._write(con, table, source) if total else [], []
        # the last record of each key wins within one ingest
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE incoming AS SELECT {columns} FROM "
            f"(SELECT *, row_number() OVER () AS _n FROM ({source})) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _n DESC) = 1"
        )
        total = _scalar(con, "SELECT count(*) FROM incoming")
        unchanged = _scalar(
            con,
            f"SELECT count(*) FROM (SELECT * FROM incoming INTERSECT ALL SELECT * FROM {stored})",
        )
        if unchanged == total:
            return IngestCount(0, 0, unchanged), [], []
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE changed AS SELECT * FROM incoming "
            f"EXCEPT ALL SELECT * FROM {stored}"
        )
        replaced = _scalar(con, f"SELECT count(*) FROM changed SEMI JOIN {stored} s USING ({keys})")
        # files holding a key that changed are rewritten without it
        gone: list[str] = []
        new_files: list[str] = []
        if replaced:
            for name in live:
                path = str(self.root / name)
                hits = _scalar(
                    con,
                    f"SELECT count(*) FROM read_parquet('{_quote(path)}') SEMI JOIN changed "
                    f"USING ({keys})",
                )
                if hits:
                    kept = (
                        f"SELECT * FROM read_parquet('{_quote(path)}') ANTI JOIN changed "
                        f"USING ({keys})"
                    )
                    new_files += self._write(con, table, kept)
                    gone.append(name)
        new_files += self._write(con, table, "SELECT * FROM changed")
        added = (total - unchanged) - replaced
        return IngestCount(added, replaced, unchanged), new_files, gone

    def _write(self, con: duckdb.DuckDBPyConnection, table: str, query: str) -> list[str]:
        """Write ``query``'s rows as Parquet files, one folder per month of creation (or start),
        in one pass; returns the new files' names."""
        when = "created_at" if table == "runs" else "coalesce(started_at, finished_at)"
        columns = ", ".join(_q(k) for k in COLUMNS[table])
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            con.execute(
                f"COPY (SELECT {columns}, strftime(coalesce({when}, TIMESTAMP '1970-01-01'), "
                f"'%Y-%m') AS _month FROM ({query})) TO '{_quote(staging)}' "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (_month), OVERWRITE_OR_IGNORE)"
            )
            names: list[str] = []
            for part in sorted(staging.glob("_month=*/*.parquet")):
                month = part.parent.name.split("=", 1)[1]
                name = f"{table}/{month}/{uuid.uuid4().hex}.parquet"
                (self.root / name).parent.mkdir(parents=True, exist_ok=True)
                part.replace(self.root / name)
                names.append(name)
            return names
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _replace_manifest(self, manifest: dict[str, list[str]]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": 1, **manifest}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(self.manifest_path)

    def _sweep(self, manifest: dict[str, list[str]]) -> None:
        """Remove files no manifest names (left by an ingest that crashed)."""
        for staging in self.root.glob(".staging-*"):
            shutil.rmtree(staging, ignore_errors=True)  # only an ingest holding the lock writes one
        live = {n for names in manifest.values() for n in names}
        for table in COLUMNS:
            for path in (self.root / table).glob("*/*.parquet"):
                if str(path.relative_to(self.root)) not in live:
                    path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(dir=self.root, prefix=".incoming-"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _run_row(run: WorkflowRun) -> dict[str, Any]:
    return {
        "provider": run.provider,
        "repository": run.repository,
        "workflow": run.workflow,
        "run_id": run.run_id,
        "attempt": run.attempt,
        "branch": run.branch,
        "default_branch": run.default_branch,
        "conclusion": run.conclusion.value,
        "created_at": utc_naive(run.created_at).isoformat(),
        "started_at": utc_naive(run.started_at).isoformat() if run.started_at else None,
        "finished_at": utc_naive(run.finished_at).isoformat() if run.finished_at else None,
        "event": run.event,
        "commit": run.commit,
        "workflow_id": run.workflow_id or None,
    }


def _job_row(job: WorkflowJob) -> dict[str, Any]:
    return {
        "provider": job.provider,
        "repository": job.repository,
        "run_id": job.run_id,
        "attempt": job.attempt,
        "job_id": job.job_id,
        "name": job.name,
        "conclusion": job.conclusion.value,
        "started_at": utc_naive(job.started_at).isoformat() if job.started_at else None,
        "finished_at": utc_naive(job.finished_at).isoformat() if job.finished_at else None,
    }


def _table_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The bulk table's column names, with only optional ones allowed to be missing."""
    reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
    names = [
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}('{_quote(path)}')").fetchall()
    ]
    missing = [k for k in RUN_COLUMNS if k not in names and k not in OPTIONAL_RUN_COLUMNS]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(missing)}",
            hint=f"a bulk table has the run columns: {', '.join(RUN_COLUMNS)}",
        )
    return names


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return path


def _json_source(path: Path, columns: dict[str, str]) -> str:
    types = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
    if path.stat().st_size == 0:
        return _empty(columns)
    options = f"format = 'newline_delimited', columns = {{{types}}}"
    return f"SELECT * FROM read_json('{_quote(path)}', {options})"


def _empty(columns: dict[str, str]) -> str:
    return (
        "SELECT "
        + ", ".join(f"CAST(NULL AS {v}) AS {_q(k)}" for k, v in columns.items())
        + " WHERE false"
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _q(name: str) -> str:
    return f'"{name}"'


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _sql_list(files: list[str]) -> str:
    return "[" + ", ".join(f"'{_quote(f)}'" for f in files) + "]"
