"""Code-quality findings in the store: upserted by (repository, provider, number), so ingesting
the same listing twice changes nothing; a full listing marks the findings it no longer has as
resolved (they are kept, never deleted)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from greenline.model.review import CodeFinding
from greenline.store.reads import as_utc
from greenline.store.schema import code_findings, repositories
from greenline.store.writes import ensure_repository, to_utc

#: the state of a finding a full listing no longer has
RESOLVED = "resolved"
FIELDS = (
    "state",
    "rule_id",
    "rule_title",
    "severity",
    "category",
    "path",
    "start_line",
    "end_line",
    "message",
    "url",
    "created_at",
)


@dataclass(frozen=True)
class FindingCount:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    resolved: int = 0


def _values(f: CodeFinding) -> dict[str, Any]:
    values = {name: getattr(f, name) for name in FIELDS}
    values["created_at"] = to_utc(f.created_at)
    return values


def upsert_findings(
    conn: Connection,
    findings: Sequence[CodeFinding],
    seen_at: datetime,
    *,
    complete_for: Collection[tuple[str, str]] = (),
) -> FindingCount:
    """Store ``findings``; for each (repository, provider) in ``complete_for`` (a full listing)
    mark the open stored ones that are not among them as resolved."""
    added = replaced = unchanged = 0
    repo_ids: dict[str, int] = {}
    seen: dict[tuple[str, str], set[int]] = {key: set() for key in complete_for}
    for f in findings:
        if f.repository not in repo_ids:
            repo_ids[f.repository] = ensure_repository(conn, f.repository, None)
        repo_id = repo_ids[f.repository]
        seen.setdefault((f.repository, f.provider), set()).add(f.number)
        key = (
            code_findings.c.repository_id == repo_id,
            code_findings.c.provider == f.provider,
            code_findings.c.number == f.number,
        )
        stored = conn.execute(select(*(code_findings.c[n] for n in FIELDS)).where(*key)).first()
        values = _values(f)
        if stored is None:
            row = {"repository_id": repo_id, "provider": f.provider, "number": f.number}
            conn.execute(code_findings.insert().values(**row, **values, seen_at=to_utc(seen_at)))
            added += 1
            continue
        before = dict(zip(FIELDS, stored, strict=True))
        before["created_at"] = as_utc(before["created_at"])
        if before == values:
            unchanged += 1
        else:
            replaced += 1
        conn.execute(update(code_findings).where(*key).values(**values, seen_at=to_utc(seen_at)))
    resolved = 0
    for repository, provider in complete_for:
        repo_id = repo_ids.get(repository) or ensure_repository(conn, repository, None)
        numbers = seen.get((repository, provider), set())
        query = update(code_findings).where(
            code_findings.c.repository_id == repo_id,
            code_findings.c.provider == provider,
            code_findings.c.state == "open",
        )
        if numbers:
            query = query.where(code_findings.c.number.not_in(sorted(numbers)))
        resolved += conn.execute(query.values(state=RESOLVED)).rowcount or 0
    return FindingCount(added, replaced, unchanged, resolved)


def open_findings(conn: Connection, repository: str, paths: Collection[str]) -> list[CodeFinding]:
    """The open findings of ``repository`` in ``paths``, by path, line and number."""
    if not paths:
        return []
    c = code_findings.c
    rows = conn.execute(
        select(c.provider, c.number, *(c[n] for n in FIELDS))
        .join(repositories, c.repository_id == repositories.c.id)
        .where(repositories.c.name == repository, c.state == "open", c.path.in_(sorted(paths)))
        .order_by(c.path, c.start_line, c.provider, c.number)
    ).all()
    out = []
    for provider, number, *rest in rows:
        values = dict(zip(FIELDS, rest, strict=True))
        values["created_at"] = as_utc(values["created_at"])
        out.append(CodeFinding(provider=provider, repository=repository, number=number, **values))
    return out
