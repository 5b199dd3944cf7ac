"""The Store: one database (SQLite file or PostgreSQL server) and its transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection

from greenline.config import mask_url
from greenline.store.engine import (
    BUSY_TIMEOUT_SECONDS,
    HEAD_REVISION,
    WRITE_OPTION,
    check_revision,
    create_store_engine,
    read_revision,
    translate_errors,
    upgrade_schema,
)


class Store:
    """A migrated database; every write is one transaction, so bad input leaves it as it was."""

    def __init__(
        self, url: str, *, migrate: bool = True, busy_timeout: float = BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.url = url
        self.engine = create_store_engine(url, busy_timeout)
        try:
            with translate_errors(url):
                if migrate:
                    upgrade_schema(self.engine)
                else:
                    with self.engine.connect() as conn:
                        check_revision(conn, self.engine.url)
        except BaseException:
            self.engine.dispose()  # no pooled connection outlives a store that failed to open
            raise

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with (
            translate_errors(self.url),
            self.engine.connect() as conn,
            conn.execution_options(**{WRITE_OPTION: True}).begin(),
        ):
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with translate_errors(self.url), self.engine.connect() as conn, conn.begin():
            yield conn

    def revision(self) -> tuple[str | None, str]:
        """(the store's schema revision, the newest this greenline knows)."""
        with self.read() as conn:
            return read_revision(conn), HEAD_REVISION

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
