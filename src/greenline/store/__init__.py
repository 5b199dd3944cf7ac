"""The store: SQLAlchemy Core tables, Alembic migrations and queries; SQLite or PostgreSQL."""

from __future__ import annotations

from greenline.config import mask_url
from greenline.store.engine import HEAD_REVISION, upgrade_schema
from greenline.store.store import Store

__all__ = ["HEAD_REVISION", "Store", "mask_url", "upgrade_schema"]
