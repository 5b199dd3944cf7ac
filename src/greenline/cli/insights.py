"""``greenline insights ingest|fetch|metrics|report``: delivery metrics for your pipelines
against the industry benchmarks."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from greenline.api.insights import INGEST_HINT, parse_time
from greenline.cli import render
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_DAYS,
    Format,
    console,
    emit_json,
    err_console,
    state_of,
)
from greenline.errors import NoDataError, UsageError
from greenline.insights.summary import human_duration, percent, signed
from greenline.model.delivery import IngestBatch
from greenline.store.warehouse import IngestCount

insights_app = typer.Typer(
    help="Delivery insights: throughput, duration, success rate and recovery, against the "
    "benchmarks.",
    no_args_is_help=True,
)
ingest_app = typer.Typer(
    help="Store workflow runs (from files, or greenline's own) and code-quality findings.",
    no_args_is_help=True,
)
fetch_app = typer.Typer(help="Fetch workflow runs live from a CI provider.", no_args_is_help=True)
insights_app.add_typer(ingest_app, name="ingest")
insights_app.add_typer(fetch_app, name="fetch")

FILES = typer.Argument(..., help="Saved API response bodies (JSON), one per file.", exists=False)
DEFAULT_BRANCH = typer.Option(
    None,
    "--default-branch",
    help="The repository's default branch, when the files do not say (main).",
)


def _report_ingest(
    provider: str, counts: dict[str, IngestCount], batch: IngestBatch | None, fmt: Format
) -> None:
    problems = batch.problems if batch else []
    if fmt is Format.json:
        emit_json(
            {
                "schema": "greenline.insights-ingest/1",
                "provider": provider,
                **{
                    table: {"added": c.added, "replaced": c.replaced, "unchanged": c.unchanged}
                    for table, c in counts.items()
                },
                "skipped": [{"location": p.location, "reason": p.reason} for p in problems],
            }
        )
        return
    for table, c in counts.items():
        console.print(
            f"{provider} {table}: {c.added} new, {c.replaced} updated, {c.unchanged} unchanged"
        )
    if problems:
        err_console.print(f"greenline: {len(problems)} record(s) skipped:")
        for p in problems[:20]:
            err_console.print(f"  {p.location}: {p.reason}", markup=False, highlight=False)
        if len(problems) > 20:
            err_console.print(f"  … and {len(problems) - 20} more (--format json lists all)")


def _ingest_files(
    ctx: typer.Context, provider: str, files: list[Path], default_branch: str | None, fmt: Format
) -> None:
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path}: no such file", hint="pass saved API responses (JSON files)")
    with state_of(ctx).open_api() as gl:
        counts, batch = gl.insights.ingest_files(provider, files, default_branch)
    _report_ingest(provider, counts, batch, fmt)


@ingest_app.command("github")
def ingest_github(
    ctx: typer.Context,
    files: list[Path] = FILES,
    default_branch: str | None = DEFAULT_BRANCH,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """GitHub Actions responses: GET /repos/OWNER/REPO/actions/runs pages and …/runs/ID/jobs."""
    _ingest_files(ctx, "github", files, default_branch, fmt)


@ingest_app.command("circleci")
def ingest_circleci(
    ctx: typer.Context,
    files: list[Path] = FILES,
    default_branch: str | None = DEFAULT_BRANCH,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """CircleCI API v2 responses: pipelines, their workflows, and jobs (with workflow_id)."""
    _ingest_files(ctx, "circleci", files, default_branch, fmt)


@ingest_app.command("github-code-quality")
def ingest_code_quality(
    ctx: typer.Context,
    repository: str = typer.Argument(..., help="OWNER/REPO"),
    files: list[Path] = typer.Option(
        [],
        "--from-file",
        metavar="FILE",
        help="A saved response (JSON) instead of asking GitHub; may be given again.",
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Code-quality findings: GET /repos/OWNER/REPO/code-quality/findings, live (the token
    comes from GREENLINE_GITHUB_TOKEN or GITHUB_TOKEN) or from saved responses (code scanning
    alerts too); greenline review shows the open ones in a change's files."""
    for path in files:
        if not path.is_file():
            raise UsageError(
                f"{path}: no such file",
                hint="pass saved responses of GET /repos/OWNER/REPO/code-quality/findings",
            )
    with state_of(ctx).open_api() as gl:
        if files:
            done = gl.findings.ingest_files(repository, files)
        else:
            with console.status("fetching code-quality findings from GitHub…") as status:
                done = gl.findings.fetch_github(
                    repository,
                    progress=lambda n: status.update(f"fetching findings from GitHub… {n} so far"),
                )
        workspace = gl.repository
    c = done.count
    if fmt is Format.json:
        emit_json(
            {
                "schema": "greenline.findings-ingest/1",
                "provider": "github-code-quality",
                "repository": done.repository,
                "findings": {
                    "added": c.added,
                    "replaced": c.replaced,
                    "unchanged": c.unchanged,
                    "resolved": c.resolved,
                },
                "skipped": [{"location": p.location, "reason": p.reason} for p in done.problems],
                "matches_repository": done.matches_workspace,
            }
        )
        return
    console.print(
        f"{done.repository} code-quality findings: {c.added} new, {c.replaced} updated, "
        f"{c.unchanged} unchanged, {c.resolved} resolved",
        markup=False,
        highlight=False,
    )
    if done.problems:
        err_console.print(f"greenline: {len(done.problems)} record(s) skipped:")
        for p in done.problems[:20]:
            err_console.print(f"  {p.location}: {p.reason}", markup=False, highlight=False)
    if not done.matches_workspace:
        err_console.print(
            f"greenline: this repository is {workspace} (from its origin remote or folder), not "
            f"{done.repository}: greenline review here shows only {workspace}'s findings",
            markup=False,
            highlight=False,
        )


@ingest_app.command("greenline")
def ingest_greenline(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """This store's own recorded runs (each a run of workflow `pytest` or `junit`)."""
    with state_of(ctx).open_reader() as gl:
        counts, batch = gl.insights.ingest_own_runs()
    _report_ingest("greenline", counts, batch, fmt)


@ingest_app.command("table")
def ingest_table(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A .parquet or .csv file with the run columns."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Bulk runs from Parquet or CSV (columns: provider, repository, workflow, run_id, attempt,
    branch, default_branch, conclusion, created_at, started_at, finished_at, event, commit)."""
    with state_of(ctx).open_api() as gl:
        counts = gl.insights.ingest_table(file)
    _report_ingest("table", counts, None, fmt)


@fetch_app.command("github")
def fetch_github(
    ctx: typer.Context,
    repository: str = typer.Argument(..., help="OWNER/REPO"),
    since: str | None = typer.Option(None, "--since", help="Runs created since (default: resume)."),
    jobs: bool = typer.Option(True, "--jobs/--no-jobs", help="Fetch each run's jobs too."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Fetch runs (and jobs) live; the token comes from GREENLINE_GITHUB_TOKEN or GITHUB_TOKEN.
    Without --since it resumes from the newest run already stored."""
    with state_of(ctx).open_api() as gl, console.status("fetching runs from GitHub…") as status:
        counts, batch = gl.insights.fetch_github(
            repository,
            since=parse_time(since, "--since"),
            with_jobs=jobs,
            progress=lambda n: status.update(f"fetching runs from GitHub… {n} so far"),
        )
    _report_ingest("github", counts, batch, fmt)


@fetch_app.command("circleci")
def fetch_circleci(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Project slug: gh/OWNER/REPO"),
    since: str | None = typer.Option(
        None, "--since", help="Pipelines created since (default: resume)."
    ),
    jobs: bool = typer.Option(True, "--jobs/--no-jobs", help="Fetch each workflow's jobs too."),
    save: Path | None = typer.Option(
        None, "--save", help="Also keep the responses in this folder."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Fetch pipelines, workflows and jobs live; the token comes from GREENLINE_CIRCLECI_TOKEN
    or CIRCLECI_TOKEN."""
    with state_of(ctx).open_api() as gl, console.status("fetching from CircleCI…") as status:
        counts, batch = gl.insights.fetch_circleci(
            slug,
            since=parse_time(since, "--since"),
            with_jobs=jobs,
            save=save,
            progress=lambda n: status.update(f"fetching from CircleCI… {n} workflows so far"),
        )
    _report_ingest("circleci", counts, batch, fmt)


WINDOW_HELP = "Window start (ISO date; default: --days before --until)."


def _metrics(
    ctx: typer.Context,
    since: str | None,
    until: str | None,
    days: int,
    repository: str | None,
    workflow: str | None,
    definitions: str = "greenline",
) -> dict[str, Any]:
    try:
        api = state_of(ctx).open_reader()
    except NoDataError:  # no store at all: nothing ingested either
        raise NoDataError("no workflow runs ingested yet", hint=INGEST_HINT) from None
    with api as gl:
        return gl.insights.metrics(
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            days=days,
            repository=repository,
            workflow=workflow,
            definitions=definitions,
        )


SINCE = typer.Option(None, "--since", help=WINDOW_HELP)
UNTIL = typer.Option(
    None, "--until", help="Window end, exclusive (default: just after the newest run)."
)
DAYS = typer.Option(
    30, "--days", min=1, max=MAX_DAYS, help="Window length when --since is not given."
)
REPOSITORY = typer.Option(None, "--repository", help="Only this OWNER/REPO.")
WORKFLOW = typer.Option(None, "--workflow", help="Only this workflow (its name or its path).")


class Definitions(enum.StrEnum):
    greenline = "greenline"
    report = "report"


DEFINITIONS = typer.Option(
    Definitions.greenline,
    "--definitions",
    help="greenline: success = successful / (successful + failed), duration from the start; "
    "report: the industry report's, success = successful / (completed - cancelled), duration "
    "from creation.",
)


@insights_app.command("metrics")
def metrics(
    ctx: typer.Context,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    days: int = DAYS,
    repository: str | None = REPOSITORY,
    workflow: str | None = WORKFLOW,
    definitions: Definitions = DEFINITIONS,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Throughput, duration, success rate and recovery per branch class and workflow."""
    doc = _metrics(ctx, since, until, days, repository, workflow, definitions.value)
    if fmt is Format.json:
        emit_json(doc)
        return
    print_metrics(doc)


def _chg(value: float | None) -> str:
    return f" ({signed(value)})" if value is not None else ""


def print_metrics(doc: dict[str, Any]) -> None:
    window = doc["window"]
    # names come from the ingested data: printed as text, never read as markup
    console.print(
        Text.assemble(
            render.plain(", ".join(doc["repositories"]), "bold"),
            render.plain(
                f" {window['since'][:10]} to {window['until'][:10]} ({window['days']:.0f} days; "
                f"changes vs the previous period; {doc['definitions']['name']} definitions)"
            ),
        )
    )
    table = Table()
    for title in (
        "",
        "runs",
        "runs/day",
        "success",
        "P50 / P95",
        "recovery (streaks)",
        "still red",
    ):
        table.add_column(title, justify="left" if not title else "right")
    for cls, name in (("default", "default branch"), ("other", "other branches"), ("all", "all")):
        f = doc["overall"][cls]
        prev = f["change_vs_previous"]
        table.add_row(
            name,
            str(f["runs"]),
            f"{f['throughput_per_day']:.1f}{_chg(prev['throughput'])}",
            f"{percent(f['success_rate'])}{_chg(prev['success_rate'])}",
            f"{human_duration(f['duration_p50_s'])} / {human_duration(f['duration_p95_s'])}",
            f"{human_duration(f['recovery_mean_s'])} ({f['recoveries']})",
            str(f["still_red"]),
        )
    console.print(table)
    workflows = Table(title="workflows")
    for title in ("repository", "workflow", "branches", "runs", "success", "P50", "recovery"):
        workflows.add_column(title)
    for w in doc["workflows"][:30]:
        workflows.add_row(
            Text(w["repository"]),
            Text(w["workflow_label"]),
            w["branch_class"],
            str(w["runs"]),
            percent(w["success_rate"]),
            human_duration(w["duration_p50_s"]),
            human_duration(w["recovery_mean_s"]),
        )
    console.print(workflows)
    for finding in doc["findings"]:
        console.print(f"• {finding}", markup=False, highlight=False)


@insights_app.command("report")
def report(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the HTML report."),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    days: int = DAYS,
    repository: str | None = REPOSITORY,
    workflow: str | None = WORKFLOW,
    definitions: Definitions = DEFINITIONS,
) -> None:
    """One self-contained HTML file with charts and findings (opens offline)."""
    from greenline.insights.report import render_report

    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder", hint="--out report.html")
    doc = _metrics(ctx, since, until, days, repository, workflow, definitions.value)
    page = render_report(doc, datetime.now(UTC))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    console.print(f"wrote {escape(str(out))} ({len(page) // 1024} KiB)")
    for finding in doc["findings"]:
        console.print(f"• {finding}", markup=False, highlight=False)
