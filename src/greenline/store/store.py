"""The Store: one database (SQLite file or PostgreSQL server) and its transactions.

Opening a SQLite store whose schema is at head, and the reads of ``lookup``, use sqlite3 alone:
SQLAlchemy (and Alembic) load only when a write, a Core read or a migration needs the engine,
so the quick commands (``runs``, ``select``) never pay for importing them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

from greenline.config import mask_url
from greenline.errors import StoreError
from greenline.store import lookups
from greenline.store.guards import BUSY_TIMEOUT_SECONDS, HEAD_REVISION, refuse_unknown_revision
from greenline.store.lookups import SqlConnection

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine


class Store:
    """A migrated database; every write is one transaction, so bad input leaves it as it was."""

    def __init__(
        self, url: str, *, migrate: bool = True, busy_timeout: float = BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self._engine: Engine | None = None
        #: the SQLite file sqlite3 reads directly (None: every read goes through SQLAlchemy)
        self._file = lookups.sqlite_file(url)
        if self._file is not None and self._file.is_file() and self._is_ready(migrate):
            return
        from greenline.store.engine import check_revision, translate_errors, upgrade_schema

        try:
            with translate_errors(url):
                if migrate:
                    upgrade_schema(self.engine)
                else:
                    with self.engine.connect() as conn:
                        check_revision(conn, self.engine.url)
        except BaseException:
            self.close()  # no pooled connection outlives a store that failed to open
            raise

    def _is_ready(self, migrate: bool) -> bool:
        """True when the SQLite file needs nothing before use (its schema is at head, or it
        is not to be migrated); a store from a newer greenline is refused here too. Anything
        sqlite3 cannot say is left to the engine, which reports it."""
        assert self._file is not None
        try:
            with lookups.reading(self._file, self.url, self.busy_timeout) as conn:
                revision = lookups.read_stamp(conn)
        except (sqlite3.Error, StoreError):
            return False
        return refuse_unknown_revision(revision, self.url) == HEAD_REVISION or (
            revision is not None and not migrate
        )

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            from greenline.store.engine import create_store_engine

            self._engine = create_store_engine(self.url, self.busy_timeout)
        return self._engine

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        return "sqlite" if self._file is not None else self.engine.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        from greenline.store.engine import WRITE_OPTION, translate_errors

        with (
            translate_errors(self.url),
            self.engine.connect() as conn,
            conn.execution_options(**{WRITE_OPTION: True}).begin(),
        ):
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction, for the SQLAlchemy Core reads (``store.reads``)."""
        from greenline.store.engine import translate_errors

        with translate_errors(self.url), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def lookup(self) -> Iterator[SqlConnection]:
        """A read-only transaction for the plain-SQL reads (``store.lookups``): sqlite3 on a
        SQLite file, SQLAlchemy elsewhere."""
        if self._file is None:
            with self.read() as conn:
                yield conn
            return
        with lookups.reading(self._file, self.url, self.busy_timeout) as plain:
            yield plain

    def revision(self) -> tuple[str | None, str]:
        """(the store's schema revision, the newest this greenline knows)."""
        from greenline.store.engine import read_revision

        with self.read() as conn:
            return read_revision(conn), HEAD_REVISION

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
