"""Opening the store: engine set-up per dialect, and forward-only migrations with a schema guard."""

from __future__ import annotations

import contextlib
import functools
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
from greenline.store.guards import (
    BUSY_TIMEOUT_SECONDS,
    HEAD_REVISION,
    driver_error,
    is_busy_code,
    refuse_unknown_revision,
)
from greenline.store.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
WRITE_OPTION = "greenline_write"
#: Key of the PostgreSQL advisory lock that lets one session at a time create or migrate the
#: schema (any constant 64-bit number: it only has to be the same for every greenline).
MIGRATION_LOCK_KEY = 0x67726E6C6E65  # "grnlne"


def _on_sqlite_connect(busy_timeout: float, dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; the busy timeout makes concurrent writers
    # (two recording sessions, xdist controllers) wait for each other instead of failing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_postgresql_connect(busy_timeout: float, dbapi_connection: Any, _record: Any) -> None:
    # Without a lock timeout a session waits for a row another writer holds as long as that
    # writer likes; with one, it fails as busy (as SQLite does) and recording carries on.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
        # psycopg prepares a statement run five times; the server's generic plan of one then
        # keeps a parameter array (``= ANY(%s)``) unhashed: each row is compared with every
        # element (a look-up of 1,000 test ids among 10,000 took 120 ms, not 3 ms). A plan for
        # the values at hand each time costs a fraction of a millisecond.
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _on_sqlite_begin(conn: Connection) -> None:
    # A writer takes the lock up front (BEGIN IMMEDIATE), so two writers queue on the busy
    # timeout rather than failing when both try to upgrade a read lock; readers never block.
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_store_engine(url: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and their folder created;
    ``busy_timeout`` is how long a writer waits for another one's lock (seconds)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/to.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.get_backend_name() != "sqlite":
        try:
            server = create_engine(parsed, pool_pre_ping=True)
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
        if server.dialect.name == "postgresql":
            event.listen(server, "connect", functools.partial(_on_postgresql_connect, busy_timeout))
        return server
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, poolclass=NullPool)
    event.listen(engine, "connect", functools.partial(_on_sqlite_connect, busy_timeout))
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
    """Bring the schema to HEAD_REVISION; returns (revision before, revision after).

    A store already at head is only read (no writer waits for it). Otherwise one session at a
    time migrates: the others wait for its lock, then find the schema at head."""
    with engine.connect() as conn, conn.begin():
        if check_revision(conn, engine.url) == HEAD_REVISION:
            return HEAD_REVISION, HEAD_REVISION
    with engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
        _lock_migrations(conn)  # SQLite: the write lock BEGIN IMMEDIATE took is the same
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


def _lock_migrations(conn: Connection) -> None:
    """Hold the migration lock until the transaction ends (PostgreSQL; SQLite's BEGIN
    IMMEDIATE already excludes every other writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def check_revision(conn: Connection, url: object) -> str | None:
    """The store's revision; refuses (never touches) a store written by a newer greenline."""
    return refuse_unknown_revision(read_revision(conn), url)


def is_busy(exc: OperationalError) -> bool:
    """True when the error is another writer's lock outlasting the busy timeout."""
    return is_busy_code(
        getattr(exc.orig, "sqlite_errorcode", None), getattr(exc.orig, "sqlstate", None)
    )


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors into one StoreError line naming the (masked) database."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise driver_error(url, reason, is_busy(exc)) from None
