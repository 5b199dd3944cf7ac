"""``greenline flaky verify TEST_ID --patch FILE``: the proof greenline's own fixes get, for a
patch written by a person or a coding agent."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from greenline import views
from greenline.cli.flaky import scan_progress
from greenline.cli.render import plain
from greenline.cli.state import FORMAT_OPTION, MAX_COUNT, Format, console, emit_json, state_of
from greenline.errors import InputError

#: read at most this much of a patch file (the service refuses anything over its own cap)
MAX_PATCH_BYTES = 1_000_001


def verify_patch_command(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="The flaky test the patch fixes."),
    patch: str = typer.Option(..., "--patch", help="A unified diff (git diff), or - for stdin."),
    workers: int = typer.Option(2, "--workers", min=1, max=MAX_COUNT, help="Runs at once."),
    verify_runs: int = typer.Option(
        60, "--verify-runs", max=MAX_COUNT, help="Runs under the failing condition it must pass."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Verify a fix for a flaky test, whoever wrote it: the patch must apply, keep every
    assertion (none removed or loosened) and add no sleep, retry, rerun, skip, xfail or flaky
    marker; then the test must pass every run under the condition that made it fail (after its
    polluter, other hash seeds) and the whole suite must still pass. The work tree is not
    touched. Exits 0 when verified, 1 when rejected."""
    diff = _read_patch(patch)
    with state_of(ctx).open_api() as gl, scan_progress() as on_progress:
        result = gl.flaky.verify_patch(
            test_id, diff, workers=workers, verify_runs=verify_runs, progress=on_progress
        )
    if fmt is Format.json:
        emit_json(views.patch_verdict_document(result))
    elif result.verified:
        console.print(
            plain(
                f"verified: {test_id} passed {result.verify_runs} runs under its failing "
                "condition with the patch, and the whole suite still passes",
                "bold green",
            )
        )
    else:
        console.print(plain(f"rejected: {result.failure}", "bold red"))
    if not result.verified:
        raise typer.Exit(1)


def _read_patch(where: str) -> str:
    if where == "-":
        text = sys.stdin.read(MAX_PATCH_BYTES)
    else:
        path = Path(where)
        if not path.is_file():
            raise InputError(f"--patch {where}: no such file", hint="git diff > fix.patch")
        with path.open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_PATCH_BYTES)
    return text
