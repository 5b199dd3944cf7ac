"""What the store refuses and how it says so: the schema revisions this greenline knows, and
the one-line errors for a store it cannot use. Shared by the SQLAlchemy engine and the sqlite3
read path, so both refuse the same stores with the same words (and this module loads neither).
"""

from __future__ import annotations

from greenline.config import mask_url
from greenline.errors import StoreBusyError, StoreError

#: The newest migration this greenline knows; a store stamped with anything else is refused.
HEAD_REVISION = "0016"
KNOWN_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
)
#: How long a writer waits for another one's lock (seconds), unless the settings say otherwise.
BUSY_TIMEOUT_SECONDS = 30.0
#: SQLITE_BUSY and SQLITE_LOCKED; PostgreSQL's lock_not_available (a lock_timeout expired).
SQLITE_BUSY_CODES = frozenset({5, 6})
PG_BUSY_STATES = frozenset({"55P03"})


def refuse_unknown_revision(revision: str | None, url: object) -> str | None:
    """``revision`` itself; refuses (never touches) a store written by a newer greenline."""
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"the store at {mask_url(str(url))} has schema revision {revision}, newer than this "
            f"greenline knows ({HEAD_REVISION}); it was left untouched",
            hint="upgrade greenline (pip install -U greenline), or point --db at another store",
        )
    return revision


def is_busy_code(sqlite_code: object, sqlstate: object) -> bool:
    """True when a driver error is another writer's lock outlasting the busy timeout."""
    if isinstance(sqlite_code, int):
        return (sqlite_code & 0xFF) in SQLITE_BUSY_CODES  # extended codes keep the primary low
    return sqlstate in PG_BUSY_STATES


def driver_error(url: str, reason: str, busy: bool) -> StoreError:
    """The one line for a driver error on the store at ``url`` (``reason``: its first line)."""
    reason = mask_url(reason)
    if busy:
        return StoreBusyError(
            f"the store at {mask_url(url)} is locked by another writer ({reason})",
            hint="nothing is wrong with it: try again later, or wait longer with "
            "store_busy_timeout (GREENLINE_STORE_BUSY_TIMEOUT, seconds)",
        )
    return StoreError(
        f"cannot use the store at {mask_url(url)}: {reason}",
        hint="check --db / GREENLINE_DATABASE_URL, and that the server is running",
    )
