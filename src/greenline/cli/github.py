"""``greenline github check selection|flaky|triage``: greenline's verdicts on a commit as GitHub
check runs, from a CI job (the token, or the GitHub App's id and key, come from the
environment; ``--format json`` prints the requests sent, ``--dry-run`` sends none)."""

from __future__ import annotations

import enum

import typer

from greenline import views
from greenline.cli.render import plain
from greenline.cli.state import FORMAT_OPTION, MAX_INT, Format, console, emit_json, state_of

github_app = typer.Typer(
    help="GitHub: greenline's verdicts on a commit as check runs.", no_args_is_help=True
)


class Check(enum.StrEnum):
    selection = "selection"
    flaky = "flaky"
    triage = "triage"


@github_app.command("check")
def publish_check(
    ctx: typer.Context,
    kind: Check = typer.Argument(
        ...,
        help="selection: which tests the change can break and the time saved; flaky: the "
        "verdicts of a run's failing tests; triage: why each failing test of a run failed.",
    ),
    sha: str = typer.Option("HEAD", "--sha", help="The commit the check run is on."),
    repository: str | None = typer.Option(
        None,
        "--repository",
        metavar="OWNER/REPO",
        help="The GitHub repository (default: GITHUB_REPOSITORY, else the origin remote's).",
    ),
    run_id: int | None = typer.Option(
        None,
        "--run",
        min=1,
        max=MAX_INT,
        help="flaky, triage: this run (default: the newest of the commit).",
    ),
    base: str | None = typer.Option(
        None, "--base", help="selection: the baseline's commit (default: found in history)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would be sent; send nothing (no token needed)."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Publish a greenline check run on a commit of a GitHub repository."""
    with state_of(ctx).open_api() as gl:
        github = gl.github
        name = github.repository_for(repository)
        if kind is Check.selection:
            report = github.selection_check(sha, base=base)
        elif kind is Check.flaky:
            report = github.flaky_check(sha, run_id)
        else:
            report = github.triage_check(sha, run_id)
        published = None if dry_run else github.publish(name, report)
        sent = github.planned_calls(name, report) if published is None else published.requests
    if fmt is Format.json:
        emit_json(views.published_check_document(name, published, sent))
        return
    where = f"{name} at {report.head_sha[:12]}"
    if published is None:
        console.print(f"greenline: would publish {report.name} on {where} ({len(sent)} requests):")
    else:
        console.print(f"greenline: published {report.name} on {where}: check run {published.id}")
    console.print(f"  {report.conclusion.value}: {plain(report.title)}")
    if published is not None and published.html_url:
        console.print(f"  {plain(published.html_url)}")
