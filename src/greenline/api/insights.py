"""Delivery insights: ingest workflow runs (GitHub Actions, CircleCI,
greenline's own runs, bulk tables) into the warehouse, and compute metrics and reports."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenline import vcs
from greenline.api.flaky import FlakyService
from greenline.api.runs import RunService
from greenline.api.workspace import Workspace
from greenline.errors import NoDataError, UsageError
from greenline.forge import circleci, github
from greenline.insights.metrics import DEFINITIONS, Window, scope, span
from greenline.insights.summary import Extras, summarise
from greenline.model import RunStatus
from greenline.model.delivery import Conclusion, IngestBatch, WorkflowRun
from greenline.store import reads, recovery
from greenline.store.warehouse import IngestCount, Warehouse, connect_duckdb

if TYPE_CHECKING:
    import httpx

INGEST_HINT = (
    "greenline insights ingest github FILE… (or fetch github OWNER/REPO, or ingest greenline "
    "for this store's own runs)"
)
#: how greenline's own run statuses and pytest exit codes read as workflow conclusions
EXIT_CONCLUSIONS = {0: Conclusion.SUCCESS, 1: Conclusion.FAILURE, 2: Conclusion.CANCELLED}


class InsightsService:
    """How the team's delivery is doing; the tests and flaky figures come from their services."""

    def __init__(self, ws: Workspace, runs: RunService, flaky: FlakyService) -> None:
        self.ws = ws
        self.runs = runs
        self.flaky = flaky

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.ws.greenline_dir / "insights")

    # -- ingest ----------------------------------------------------------------------------
    def ingest_files(
        self, provider: str, paths: Sequence[Path], default_branch: str | None = None
    ) -> tuple[dict[str, IngestCount], IngestBatch]:
        """Saved API responses of ``provider`` (``github`` or ``circleci``)."""
        readers = {"github": github.read_files, "circleci": circleci.read_files}
        if provider not in readers:
            raise UsageError(f"no provider {provider!r}", hint=f"one of {', '.join(readers)}")
        batch = readers[provider](list(paths), default_branch)
        return self.warehouse.ingest(batch.runs, batch.jobs), batch

    def fetch_github(
        self,
        repository: str,
        *,
        token: str | None = None,
        since: datetime | None = None,
        with_jobs: bool = True,
        transport: httpx.BaseTransport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, IngestCount], IngestBatch]:
        """Fetch runs live; without ``since`` it resumes a day before the newest run stored."""
        token = token or next((os.environ[v] for v in github.TOKEN_ENV if os.environ.get(v)), None)
        if since is None:
            since = github.overlap_since(self.warehouse.newest("github", repository))
        client = github.GitHubClient(token, transport=transport)
        try:
            batch = github.fetch(client, repository, since, with_jobs=with_jobs, progress=progress)
        finally:
            client.close()
        return self.warehouse.ingest(batch.runs, batch.jobs), batch

    def fetch_circleci(
        self,
        slug: str,
        *,
        token: str | None = None,
        since: datetime | None = None,
        with_jobs: bool = True,
        save: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, IngestCount], IngestBatch]:
        token = token or next(
            (os.environ[v] for v in circleci.TOKEN_ENV if os.environ.get(v)), None
        )
        if since is None:
            newest = self.warehouse.newest("circleci", circleci.repository_of(slug))
            since = github.overlap_since(newest)
        client = circleci.CircleClient(token, transport=transport)
        try:
            batch = circleci.fetch(
                client, slug, since, with_jobs=with_jobs, save=save, progress=progress
            )
        finally:
            client.close()
        return self.warehouse.ingest(batch.runs, batch.jobs), batch

    def ingest_own_runs(self) -> tuple[dict[str, IngestCount], IngestBatch]:
        """greenline's recorded runs of this repository, as runs of a workflow named after
        their source (``pytest``, ``junit``)."""
        default = vcs.default_branch(self.ws.root)
        with self.ws.store.read() as conn:
            own = reads.list_runs(conn, self.ws.repository, limit=10_000_000)
        runs = [_own_run(run, default) for run in own]
        return self.warehouse.ingest(runs), IngestBatch(runs, [], [])

    def ingest_table(self, path: Path) -> dict[str, IngestCount]:
        return self.warehouse.ingest_table(path)

    # -- metrics ---------------------------------------------------------------------------
    def metrics(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        days: int = 30,
        repository: str | None = None,
        workflow: str | None = None,
        now: datetime | None = None,
        definitions: str = "greenline",
    ) -> dict[str, Any]:
        """The summary over ``[since, until)`` (default: the last ``days`` days of the data),
        with greenline's definitions or the industry report's (``definitions="report"``)."""
        if definitions not in DEFINITIONS:
            raise UsageError(
                f"--definitions {definitions!r}: not one of {', '.join(DEFINITIONS)}",
                hint="--definitions report (the industry report's) or greenline",
            )
        if not self.warehouse.exists():
            raise NoDataError("no workflow runs ingested yet", hint=INGEST_HINT)
        con = connect_duckdb()
        try:
            self.warehouse.attach(con)
            filters = {"repository": repository, "workflow": workflow}
            scope(con, {k: v for k, v in filters.items() if v}, definitions)
            bounds = span(con)
            if bounds is None:
                raise NoDataError(
                    "no workflow runs match",
                    hint="greenline insights metrics without --repository/--workflow lists all",
                )
            window = _window(since, until, days, bounds[1], now)
            return summarise(con, window, self._extras(), definitions)
        finally:
            con.close()

    def _extras(self) -> Extras:
        """Tests and flaky tests from the store, when it has this repository's runs."""
        try:
            slowest = self.runs.list_tests(slowest=5)
            failing = self.runs.list_tests(failing=True)
            flaky = self.flaky.verdicts()
        except NoDataError:
            return Extras()
        return Extras(
            slowest_tests=[
                {"test_id": t.test_id, "mean_duration_s": t.mean_duration, "runs": t.runs}
                for t in slowest
            ],
            failing_tests=[
                {"test_id": t.test_id, "failures": t.failures, "runs": t.runs}
                for t in sorted(failing, key=lambda t: -t.failures)[:5]
            ],
            flaky_seconds=sum(v.wasted_seconds for v in flaky) if flaky else None,
            flaky_tests=len(flaky),
            culprits=self._culprits(),
        )

    def _culprits(self) -> dict[str, Any] | None:
        """greenline's culprit searches: how many, their answers, and how long after the red
        run they named a confirmed culprit (the median)."""
        with self.ws.store.read() as conn:
            searches = recovery.culprit_searches_of(conn, self.ws.repository)
            runs = reads.list_runs(conn, self.ws.repository, limit=10_000)
        if not searches:
            return None
        red_at: dict[str, datetime] = {}
        for run in runs:  # the first run at each commit: when it went red
            if run.commit.sha and (
                run.commit.sha not in red_at or run.started_at < red_at[run.commit.sha]
            ):
                red_at[run.commit.sha] = run.started_at
        statuses = [json.loads(report)["answer"]["status"] for _, _, _, report in searches]
        waits = sorted(
            (created - red_at[bad]).total_seconds()
            for bad, confirmed, created, _ in searches
            if confirmed and bad in red_at
        )
        return {
            "searches": len(searches),
            "found": statuses.count("found"),
            "no_culprit": statuses.count("no-culprit"),
            "median_s_to_culprit": round(statistics.median(waits), 1) if waits else None,
        }


def parse_time(text: str | None, flag: str) -> datetime | None:
    """An ISO date or time; UTC unless it names a zone."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: not a date", hint=f"{flag} 2026-01-01 (or 2026-01-01T12:00+02:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _window(
    since: datetime | None,
    until: datetime | None,
    days: int,
    newest: datetime,
    now: datetime | None,
) -> Window:
    if days < 1:
        raise UsageError(f"--days {days}: at least 1", hint="--days 30")
    end = until or (newest + timedelta(microseconds=1) if now is None else now)
    start = since or end - timedelta(days=days)
    if start >= end:
        raise UsageError(
            f"--since {start.isoformat()} is not before --until {end.isoformat()}",
            hint="--since 2026-01-01 --until 2026-02-01",
        )
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def _own_run(run: Any, default_branch: str) -> WorkflowRun:
    if run.status is RunStatus.RUNNING:
        conclusion = Conclusion.RUNNING
    elif run.status is RunStatus.INCOMPLETE:
        conclusion = Conclusion.CANCELLED  # stopped before it ended (killed, interrupted)
    else:
        conclusion = EXIT_CONCLUSIONS.get(run.exit_status or 0, Conclusion.INFRA_FAILURE)
        if run.exit_status == 5:  # pytest collected nothing: the run itself succeeded
            conclusion = Conclusion.SUCCESS
        if run.exit_status is None:
            failed = run.counts.get("failed") or run.counts.get("error")
            conclusion = Conclusion.FAILURE if failed else Conclusion.SUCCESS
    branch = run.commit.branch or "(detached)"
    return WorkflowRun(
        provider="greenline",
        repository=run.repository,
        workflow=run.source,
        run_id=str(run.id),
        attempt=1,
        branch=branch,
        default_branch=branch == default_branch,
        conclusion=conclusion,
        created_at=run.started_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        event="local",
        commit=run.commit.sha or "",
    )
