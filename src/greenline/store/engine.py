"""Opening the store: engine set-up per dialect, and forward-only migrations with a schema guard."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from greenline.config import mask_url
from greenline.errors import StoreError
from greenline.store.schema import metadata

#: The newest migration this greenline knows; a store stamped with anything else is refused.
HEAD_REVISION = "0006"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "greenline_write"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; the busy timeout makes concurrent writers
    # (two recording sessions, xdist controllers) wait for each other instead of failing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A writer takes the lock up front (BEGIN IMMEDIATE), so two writers queue on the busy
    # timeout rather than failing when both try to upgrade a read lock; readers never block.
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and their folder created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/to.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except NoSuchModuleError:
            raise StoreError(
                f"unknown kind of database in {mask_url(url)!r}",
                hint="use sqlite:///path/to.db or postgresql+psycopg://user@host/db",
            ) from None
        except (ModuleNotFoundError, SQLAlchemyError) as exc:
            raise StoreError(
                f"cannot use {mask_url(url)}: {exc}",
                hint="pip install 'greenline[postgres]' for PostgreSQL",
            ) from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, poolclass=NullPool)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def read_revision(conn: Connection) -> str | None:
    """The Alembic revision the store is stamped with, or None for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _create_at_head(conn: Connection) -> None:
    """An empty database gets today's tables and the head stamp in one step, as Alembic would
    leave it after every migration (a test keeps the two identical); this skips importing
    Alembic, which would cost a recording run more than the whole schema does."""
    metadata.create_all(conn)
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=HEAD_REVISION))


def upgrade_schema(engine: Engine, *, via_migrations: bool = False) -> tuple[str | None, str]:
    """Bring the schema to HEAD_REVISION; returns (revision before, revision after)."""
    with engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
        before = check_revision(conn, engine.url)
        if before == HEAD_REVISION:
            return before, before
        if before is None and not via_migrations and not inspect(conn).get_table_names():
            _create_at_head(conn)
            return before, HEAD_REVISION
        # Alembic is imported only when there is something to migrate: it is slow to import.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, HEAD_REVISION


def check_revision(conn: Connection, url: object) -> str | None:
    """The store's revision; refuses (never touches) a store written by a newer greenline."""
    revision = read_revision(conn)
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"the store at {mask_url(str(url))} has schema revision {revision}, newer than this "
            f"greenline knows ({HEAD_REVISION}); it was left untouched",
            hint="upgrade greenline (pip install -U greenline), or point --db at another store",
        )
    return revision


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors into one StoreError line naming the (masked) database."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(
            f"cannot use the store at {mask_url(url)}: {reason}",
            hint="check --db / GREENLINE_DATABASE_URL, and that the server is running",
        ) from None
