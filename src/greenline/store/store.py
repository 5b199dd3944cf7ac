"""The Store: one database (SQLite file or PostgreSQL server) and its transactions.

Opening a SQLite store whose schema is at head, and the reads of ``lookup``, use sqlite3 alone:
SQLAlchemy (and Alembic) load only when a write, a Core read or a migration needs the engine,
so the quick commands (``runs``, ``select``) never pay for importing them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
        #: each (process, thread)'s reading connection to the SQLite file
        self._readers: dict[tuple[int, int], sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        #: the connection ``data_version`` asks (sqlite3's or psycopg's; opened on first use)
        self._watch: Any = None
        self._watch_pid = 0
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
        from greenline.store.summaries import PENDING, Pending

        with translate_errors(self.url), self.engine.connect() as conn:
            pending = conn.info[PENDING] = Pending()  # summaries are written last
            try:
                with conn.execution_options(**{WRITE_OPTION: True}).begin():
                    yield conn
                    pending.apply(conn)
            finally:
                conn.info.pop(PENDING, None)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction, for the SQLAlchemy Core reads (``store.reads``)."""
        from greenline.store.engine import translate_errors

        with translate_errors(self.url), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def lookup(self) -> Iterator[SqlConnection]:
        """A read-only transaction for the plain-SQL reads (``store.lookups``): sqlite3 on a
        SQLite file, SQLAlchemy elsewhere.

        On SQLite each thread keeps its reading connection between lookups (a process serving
        requests would otherwise open the file and parse its schema for every one); each
        lookup is its own transaction, so it sees every write committed before it began."""
        if self._file is None:
            with self.read() as conn:
                yield conn
            return
        with lookups.translate_sqlite_errors(self.url):
            plain = self._reader()
            plain.execute("BEGIN")
            try:
                yield plain
            finally:
                if plain.in_transaction:  # a read transaction has nothing to commit
                    plain.execute("ROLLBACK")

    def _reader(self) -> sqlite3.Connection:
        """This thread's reading connection (a forked child opens its own)."""
        assert self._file is not None
        key = (os.getpid(), threading.get_ident())
        conn = self._readers.get(key)
        if conn is None:
            conn = lookups.open_reader(self._file, self.busy_timeout)
            with self._readers_lock:
                self._readers[key] = conn
        return conn

    def data_version(self) -> str | None:
        """A token that changes whenever anyone commits a change to the store: two equal
        tokens, read one after the other, mean the store held the same data in between (a
        cached answer computed between them is still right). None where it cannot be known.

        SQLite: ``PRAGMA data_version`` of a connection kept for it (it counts the commits of
        every other connection, in any process). PostgreSQL: the transaction snapshot (its
        lowest running, next and running transaction ids): equal snapshots see the same
        committed transactions, and every write gets a new transaction id."""
        if self._file is not None:
            with lookups.translate_sqlite_errors(self.url), self._readers_lock:
                self._forget_parent_watch()
                if self._watch is None:
                    self._watch_pid = os.getpid()
                    self._watch = lookups.open_reader(self._file, self.busy_timeout)
                row = self._watch.execute("PRAGMA data_version").fetchone()
            return f"sqlite:{row[0]}"
        if self.dialect != "postgresql":
            return None
        from greenline.store.engine import translate_errors

        with translate_errors(self.url), self._readers_lock:
            self._forget_parent_watch()
            for attempt in (1, 2):  # a watch connection the server dropped is opened again
                if self._watch is None:
                    self._watch_pid = os.getpid()
                    # one connection of its own, out of the pool, in autocommit: one round
                    # trip a question (a pooled one would ping first, and begin and end)
                    proxied = self.engine.raw_connection()
                    driver: Any = proxied.driver_connection
                    proxied.detach()
                    driver.autocommit = True
                    self._watch = driver
                try:
                    with self._watch.cursor() as cursor:
                        cursor.execute("SELECT pg_current_snapshot()::text")
                        return f"postgresql:{cursor.fetchone()[0]}"
                except Exception:
                    self._close_watch()
                    if attempt == 2:
                        raise
        return None

    def _forget_parent_watch(self) -> None:
        if self._watch is not None and self._watch_pid != os.getpid():
            self._watch = None  # a forked child's: the parent's connection is the parent's

    def _close_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None and self._watch_pid == os.getpid():
            with contextlib.suppress(Exception):
                watch.close()

    def revision(self) -> tuple[str | None, str]:
        """(the store's schema revision, the newest this greenline knows)."""
        from greenline.store.engine import read_revision

        with self.read() as conn:
            return read_revision(conn), HEAD_REVISION

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, {}
        for key, conn in readers.items():
            if key[0] == os.getpid():  # a parent's connection is the parent's to close
                conn.close()
        with self._readers_lock:
            self._close_watch()
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
