"""API tokens for the team server: made with a name and a scope (read < write < admin), shown
once, stored only as a SHA-256 digest, checked per request, revoked by name."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from greenline.api.workspace import Workspace
from greenline.errors import NoDataError, UsageError
from greenline.store import lookups
from greenline.store import tokens as stored

SCOPES = ("read", "write", "admin")
PREFIX = "glt_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, needed: str) -> bool:
        return self.revoked_at is None and SCOPES.index(self.scope) >= SCOPES.index(needed)


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def create(self, name: str, scope: str) -> tuple[str, Token]:
        """A new token (its text, which is never shown again, and its record)."""
        if not _NAME.match(name):
            raise UsageError(
                f"token name {name!r}: letters, digits, '.', '_' and '-', up to 64",
                hint="greenline token create ci-main --scope write",
            )
        if scope not in SCOPES:
            raise UsageError(f"--scope {scope!r}: one of {', '.join(SCOPES)}", hint="--scope read")
        text = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.ws.store.write() as conn:
            stored.insert_token(conn, name, scope, digest_of(text), now)
        return text, Token(name, scope, now)

    def check(self, text: str) -> Token | None:
        """The live token ``text`` is, or None (unknown, malformed or revoked)."""
        if not text.startswith(PREFIX) or len(text) > 200:
            return None
        digest = digest_of(text)
        with self.ws.store.lookup() as conn:  # every request asks: no SQLAlchemy on SQLite
            row = lookups.token_row(conn, digest)
        if row is None:  # looked up by digest: the token's text is never compared or stored
            return None
        token = Token(row[1], row[2], row[3], row[4])
        return token if token.revoked_at is None else None

    def all(self) -> list[Token]:
        with self.ws.store.read() as conn:
            rows = stored.list_tokens(conn)
        return [Token(r[1], r[2], r[3], r[4]) for r in rows]

    def revoke(self, name: str) -> int:
        with self.ws.store.write() as conn:
            count = stored.revoke_tokens(conn, name, datetime.now(UTC))
        if not count:
            raise NoDataError(f"no live token named {name!r}", hint="greenline token list")
        return count
