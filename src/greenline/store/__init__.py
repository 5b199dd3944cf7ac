"""The store: SQLAlchemy Core tables, Alembic migrations and queries; SQLite or PostgreSQL.

Importing it loads neither SQLAlchemy nor Alembic: the store opens a SQLite file with sqlite3
and creates its engine when a write, a Core read or a migration first needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenline.config import mask_url
from greenline.store.guards import HEAD_REVISION
from greenline.store.store import Store

if TYPE_CHECKING:
    from greenline.store.engine import upgrade_schema

__all__ = ["HEAD_REVISION", "Store", "mask_url", "upgrade_schema"]


def __getattr__(name: str) -> Any:
    if name == "upgrade_schema":  # SQLAlchemy loads when a migration is asked for
        from greenline.store.engine import upgrade_schema

        return upgrade_schema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
