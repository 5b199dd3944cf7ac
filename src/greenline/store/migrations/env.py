"""Alembic environment: runs migrations on the connection greenline hands it (never from a .ini)."""

from __future__ import annotations

from alembic import context

from greenline.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
