"""``greenline init github|circleci``: write the CI configuration that records, selects,
scans and triages with greenline."""

from __future__ import annotations

import typer

from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, state_of

init_app = typer.Typer(
    help="Set greenline up in CI: write the provider's configuration.", no_args_is_help=True
)

FORCE = typer.Option(False, "--force", help="Overwrite the file if it exists.")
PYTHON = typer.Option(
    None, "--python", metavar="X.Y", help="The Python version CI runs (default: this one's)."
)


def _init(ctx: typer.Context, provider: str, force: bool, python: str | None, fmt: Format) -> None:
    from greenline.api.setup import write_ci_config

    written = write_ci_config(provider, state_of(ctx).repo, force=force, python=python)
    if fmt is Format.json:
        emit_json(
            {
                "schema": "greenline.init/1",
                "provider": written.provider,
                "path": written.path,
                "root": str(written.root),
                "bytes": written.size,
                "replaced": written.replaced,
                "next_steps": list(written.next_steps),
            }
        )
        return
    verb = "replaced" if written.replaced else "wrote"
    console.print(f"{verb} {written.path} ({written.size} bytes)", markup=False, highlight=False)
    for step in written.next_steps:
        console.print(f"  next: {step}", markup=False, highlight=False, soft_wrap=True)


@init_app.command("github")
def init_github(
    ctx: typer.Context,
    force: bool = FORCE,
    python: str | None = PYTHON,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Write .github/workflows/greenline.yml: record on the default branch, selected tests first
    on pull requests and merge groups, a nightly flaky scan, triage of red runs."""
    _init(ctx, "github", force, python, fmt)


@init_app.command("circleci")
def init_circleci(
    ctx: typer.Context,
    force: bool = FORCE,
    python: str | None = PYTHON,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Write .circleci/greenline.yml (rename it to config.yml, or merge it into yours): record
    on the default branch, selected tests first elsewhere, a scheduled flaky scan, triage."""
    _init(ctx, "circleci", force, python, fmt)
