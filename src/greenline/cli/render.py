"""Rich renderings of runs, results, tests and histories for people at a terminal."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text

from greenline.model import Outcome, Run, RunStatus, TestHistoryEntry, TestResult, TestSummary

OUTCOME_STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.ERROR: "bold red",
    Outcome.SKIPPED: "yellow",
    Outcome.XFAILED: "yellow",
    Outcome.XPASSED: "magenta",
}
STATUS_STYLE = {RunStatus.COMPLETE: "green", RunStatus.RUNNING: "cyan", RunStatus.INCOMPLETE: "red"}


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.2f}s"
    return f"{value / 60:.1f}m"


def outcome_text(outcome: Outcome) -> Text:
    return Text(outcome.value, style=OUTCOME_STYLE[outcome])


def counts_text(run: Run) -> Text:
    text = Text()
    for outcome in Outcome:
        n = run.counts.get(outcome.value)
        if n:
            if text:
                text.append(", ")
            text.append(f"{n} {outcome.value}", style=OUTCOME_STYLE[outcome])
    return text or Text("no tests", style="dim")


def commit_text(run: Run) -> str:
    sha = run.commit.sha[:10] if run.commit.sha else "-"
    return sha + ("+dirty" if run.commit.dirty else "")


def runs_table(runs: list[Run]) -> Table:
    table = Table(title=f"{len(runs)} runs, newest first", title_justify="left")
    for column in ("id", "started", "status", "branch", "commit", "source", "tests", "time"):
        table.add_column(column, justify="right" if column in ("id", "time") else "left")
    for run in runs:
        table.add_row(
            str(run.id),
            when(run.started_at),
            Text(run.status.value, style=STATUS_STYLE[run.status]),
            run.commit.branch or "-",
            commit_text(run),
            run.source + (" +cov" if run.has_coverage else ""),
            counts_text(run),
            seconds(run.duration),
        )
    return table


def run_header(run: Run) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("run", f"{run.id} ({run.source}) in {run.repository}")
    grid.add_row("status", Text(run.status.value, style=STATUS_STYLE[run.status]))
    commit = commit_text(run) + (f"  {run.commit.subject}" if run.commit.subject else "")
    grid.add_row("commit", commit)
    grid.add_row("branch", run.commit.branch or "-")
    grid.add_row("started", when(run.started_at))
    grid.add_row("finished", when(run.finished_at))
    grid.add_row("tests", counts_text(run))
    grid.add_row("test time", seconds(run.duration))
    if run.environment:
        env = run.environment
        grid.add_row("environment", f"{env.python} {env.platform} packages {env.packages_hash}")
    grid.add_row("coverage", "function-level, per test" if run.has_coverage else "none")
    return grid


def results_table(results: list[TestResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("test", overflow="fold")
    for column in ("outcome", "phase", "attempt", "time", "message"):
        table.add_column(column, justify="right" if column in ("attempt", "time") else "left")
    for r in results:
        table.add_row(
            r.test_id,
            outcome_text(r.outcome),
            r.phase.value if r.phase else "",
            str(r.attempt),
            seconds(r.duration),
            (r.message or "")[:120],
        )
    return table


def tests_table(summaries: list[TestSummary], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("test", overflow="fold")
    for column in ("runs", "failures", "mean time", "last"):
        table.add_column(column, justify="left" if column == "last" else "right")
    for s in summaries:
        table.add_row(
            s.test_id,
            str(s.runs),
            str(s.failures),
            seconds(s.mean_duration),
            outcome_text(s.last_outcome),
        )
    return table


def history_table(test_id: str, entries: list[TestHistoryEntry]) -> Table:
    table = Table(title=f"history of {test_id}, newest first", title_justify="left")
    for column in ("run", "started", "branch", "commit", "attempt", "outcome", "time", "message"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.run_id),
            when(e.started_at),
            e.branch or "-",
            (e.sha or "-")[:10],
            str(e.result.attempt),
            outcome_text(e.result.outcome),
            seconds(e.result.duration),
            (e.result.message or "")[:80],
        )
    return table
