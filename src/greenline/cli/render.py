"""Rich renderings for people, and the consoles that show every outside string as plain text.

Test ids, failure messages, branch names and error messages come from code and files greenline
does not control: ``test_op[and]`` must not become markup, ``[/etc]`` must not crash a table, and
an escape sequence must not reach the terminal. Every command prints through ``PlainConsole``
(no markup, no emoji codes, control characters written out) and builds styled text from
``plain()``; style comes only from Text objects made here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleDimensions
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

#: C0 controls but newline and tab, DEL, C1 controls, and the bidirectional overrides that make
#: text read otherwise than it is ("Trojan Source"): shown as escapes, never sent as they are.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Outside a terminal nothing folds or truncates: a pipe or a CI log must get whole ids and URLs.
UNLIMITED_WIDTH = 1_000_000


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize(value: str) -> str:
    """``value`` with every character that would control the terminal written as an escape."""
    return _UNSAFE.sub(_escape, value)


def plain(value: object, style: str = "") -> Text:
    """An outside string as Text: shown as it is (no markup), control characters escaped."""
    return Text(sanitize(str(value)), style=style)


class PlainConsole(Console):
    """A console that renders every string as plain text and, outside a terminal, never wraps.

    Strings given to ``print`` and to tables pass ``render_str``, so markup is off and control
    characters are escaped for all of them, whatever the command."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, markup=False, emoji=False, highlight=False)
        # rich takes COLUMNS as a fixed width; on a terminal it reads it again (see size), and
        # in a pipe it must not fold ids
        self._width = None

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(sanitize(text), **options)

    def _size(self) -> ConsoleDimensions:
        measured = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNLIMITED_WIDTH, measured.height)
        return measured  # type: ignore[no-any-return]

    size = property(_size, Console.size.fset)  # type: ignore[attr-defined]


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


def size(n: int) -> str:
    """Bytes as a person reads them: 812 B, 4.2 MB, 1.3 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
