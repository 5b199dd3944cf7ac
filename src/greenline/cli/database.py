"""``greenline db upgrade|info|prune``: the store's schema, size and housekeeping."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from greenline import views
from greenline.cli import render
from greenline.cli.state import FORMAT_OPTION, MAX_COUNT, Format, console, emit_json, state_of
from greenline.model import PruneReport

db_app = typer.Typer(help="Manage the store.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Migrate the store to this greenline's schema (forward only; no data is dropped)."""
    state = state_of(ctx)
    with state.open_api(migrate=False) as gl:
        before, after = gl.runs.upgrade_store()
    if before == after:
        console.print(f"store {gl.store.display_url} is up to date (revision {after})")
    else:
        console.print(f"store {gl.store.display_url} upgraded: {before or 'empty'} -> {after}")


@db_app.command("info")
def info(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Where the store is, its schema revision, how many rows it holds and its size."""
    with state_of(ctx).open_reader() as gl:
        data = gl.runs.db_info()
    if fmt is Format.json:
        emit_json(views.db_info_document(data))
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key in ("url", "dialect", "repository", "revision", "head", "up_to_date"):
        table.add_row(key, str(data[key]))
    rows = data["rows"]
    assert isinstance(rows, dict)
    for name, count in rows.items():
        table.add_row(f"rows: {name}", str(count))
    size = data["size"]
    assert isinstance(size, dict)
    table.add_row("size", render.size(size["bytes"]) + _parts(size))
    for name, n in list(size.get("tables", {}).items())[:6]:  # the largest few
        if n:
            table.add_row(f"size: {name}", render.size(n))
    console.print(table)


def _parts(size: dict[str, int]) -> str:
    wal = size.get("wal_bytes")
    return f" (write-ahead log {render.size(wal)})" if wal else ""


@db_app.command("prune")
def prune(
    ctx: typer.Context,
    keep: int | None = typer.Option(
        None, "--keep", min=0, max=MAX_COUNT, metavar="N", help="Keep the newest N runs."
    ),
    older_than: str | None = typer.Option(
        None, "--older-than", metavar="AGE", help="Delete runs older than this: 30d, 12h, 2w."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; delete nothing."),
    vacuum: bool = typer.Option(
        False, "--vacuum", help="Compact the database afterwards (SQLite: the file shrinks)."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Delete old runs with their results and coverage, in one transaction.

    With --keep and --older-than, a run goes when both say so. Without either, the retention
    settings (retention_runs, retention_days) say. Never deleted: a run still running, and
    each branch's newest run a selection can use as its baseline."""
    from greenline.api.housekeeping import parse_age

    age = parse_age(older_than) if older_than is not None else None
    with state_of(ctx).open_api(create=False) as gl:
        now = datetime.now(UTC)
        if keep is None and age is None:
            keep, age = gl.housekeeping.retention()
        report = gl.housekeeping.prune(
            keep=keep, older_than=age, now=now, dry_run=dry_run, vacuum=vacuum
        )
    if fmt is Format.json:
        emit_json(views.prune_document(report))
    else:
        console.print(_prune_text(report), soft_wrap=True)


def _prune_text(report: PruneReport) -> str:
    runs = len(report.run_ids)
    if not runs:
        return f"nothing to prune: no run is {report.rule}"
    rows = sum(n for name, n in report.rows.items() if name != "runs")
    detail = ", ".join(f"{n} {name}" for name, n in report.rows.items() if name != "runs")
    what = f"{runs} run{'' if runs == 1 else 's'} {report.rule} ({rows} rows: {detail})"
    if report.dry_run:
        return f"would delete {what}; nothing deleted"
    line = f"deleted {what}"
    if report.bytes_before is not None and report.bytes_after is not None:
        line += f"; store {render.size(report.bytes_before)} -> {render.size(report.bytes_after)}"
    return line + ("" if report.vacuumed else " (--vacuum gives the room back to the disk)")
