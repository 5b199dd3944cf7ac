"""Pages of a list: at most ``limit`` items, and an opaque ``next_cursor`` to pass back as
``cursor`` for the next page (null on the last one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Query

from greenline.errors import UsageError
from greenline.web.deps import decode_cursor, encode_cursor

T = TypeVar("T")

#: the largest page any list gives
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page (at most 200).")
CURSOR = Query(None, description="The next_cursor of the page before (omit for the first page).")


def offset_of(cursor: str | None) -> int:
    """Where a page starts in the list: 0, or what the cursor of the page before says."""
    start = decode_cursor(cursor) if cursor else 0
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise UsageError("the cursor is not one this server gave", hint="start over without cursor")
    return start


def page(items: Sequence[T], limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    """One page of ``items`` (whose order is stable between requests) and the next cursor."""
    start = offset_of(cursor)
    end = start + limit
    return list(items[start:end]), encode_cursor(end) if end < len(items) else None


def paged(doc: dict[str, Any], key: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A document with its list ``key`` cut to one page and the cursor of the next."""
    doc[key], doc["next_cursor"] = page(doc[key], limit, cursor)
    return doc
