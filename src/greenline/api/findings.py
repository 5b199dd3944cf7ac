"""Code-quality findings: ingested from a code host (GitHub Code Quality, live or from saved
responses) into the store, and read back for the files a change touches."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from greenline.api.workspace import Workspace
from greenline.forge import code_quality, github
from greenline.model.delivery import IngestProblem
from greenline.model.review import CodeFinding
from greenline.store.findings import FindingCount, open_findings, upsert_findings

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class FindingIngest:
    """What an ingest stored, what it skipped (and why), and for which repository."""

    repository: str
    count: FindingCount
    problems: tuple[IngestProblem, ...]
    #: False when the findings belong to another repository than this workspace's: review
    #: shows only this repository's findings
    matches_workspace: bool


class FindingService:
    """Which code-quality findings are open, and where."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def ingest_files(self, repository: str, paths: Sequence[Path]) -> FindingIngest:
        """Saved responses (partial listings: nothing is marked resolved)."""
        code_quality.check_repository(repository)
        findings, problems = code_quality.read_files(list(paths), repository)
        return self._store(repository, findings, problems, complete=False)

    def fetch_github(
        self,
        repository: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        base_url: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> FindingIngest:
        """Every finding, live: a full listing, so stored open findings it lacks are resolved."""
        code_quality.check_repository(repository)
        token = token or next((os.environ[v] for v in github.TOKEN_ENV if os.environ.get(v)), None)
        client = code_quality.CodeQualityClient(token, transport=transport, base_url=base_url)
        try:
            findings, problems = code_quality.fetch(client, repository, progress=progress)
        finally:
            client.close()
        return self._store(repository, findings, problems, complete=not problems)

    def _store(
        self,
        repository: str,
        findings: list[CodeFinding],
        problems: list[IngestProblem],
        *,
        complete: bool,
    ) -> FindingIngest:
        providers = {code_quality.QUALITY} | {f.provider for f in findings}
        complete_for = [(repository, p) for p in sorted(providers)] if complete else []
        with self.ws.store.write() as conn:
            count = upsert_findings(conn, findings, datetime.now(UTC), complete_for=complete_for)
        return FindingIngest(repository, count, tuple(problems), repository == self.ws.repository)

    def open_in(self, paths: Collection[str]) -> list[CodeFinding]:
        """This repository's open findings in ``paths``."""
        with self.ws.store.read() as conn:
            return open_findings(conn, self.ws.repository, paths)
