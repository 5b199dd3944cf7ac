"""API tokens in the store: digests only (a token is shown once, when it is made)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select, update

from greenline.store.reads import as_utc
from greenline.store.schema import api_tokens
from greenline.store.writes import to_utc

#: (id, name, scope, created_at, revoked_at)
TokenRow = tuple[int, str, str, datetime, datetime | None]


def insert_token(conn: Connection, name: str, scope: str, digest: str, at: datetime) -> int:
    result = conn.execute(
        api_tokens.insert().values(name=name, scope=scope, digest=digest, created_at=to_utc(at))
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_tokens(conn: Connection) -> list[TokenRow]:
    return [_row(r) for r in conn.execute(_query().order_by(api_tokens.c.id))]


def revoke_tokens(conn: Connection, name: str, at: datetime) -> int:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=to_utc(at))
    )
    return int(result.rowcount or 0)


def _query() -> Select[Any]:
    c = api_tokens.c
    return select(c.id, c.name, c.scope, c.created_at, c.revoked_at)


def _row(row: Any) -> TokenRow:
    token_id, name, scope, created_at, revoked_at = row
    created = as_utc(created_at)
    assert created is not None
    return (int(token_id), str(name), str(scope), created, as_utc(revoked_at))
