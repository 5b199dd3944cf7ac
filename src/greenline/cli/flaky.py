"""``greenline flaky list|explain|quarantine|release``: tests that lie, why, and quarantine."""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from greenline import views
from greenline.cli import render
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    Format,
    console,
    emit_json,
    err_console,
    split_passthrough,
    state_of,
)
from greenline.errors import UsageError
from greenline.model import FlakyVerdict, QuarantineEntry, Verdict
from greenline.selection import parse_budget

flaky_app = typer.Typer(
    help="Flaky tests: found in history, explained, quarantined.", no_args_is_help=True
)

_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


def parse_expiry(text: str, now: datetime) -> datetime:
    """``14d``, ``12h``, ``2w`` from now, or an ISO date / datetime (UTC unless it says)."""
    match = _DURATION.match(text)
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--expires {text!r}: not a duration or a date",
            hint="14d, 12h, 2w, or a date such as 2026-12-31",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@flaky_app.command(
    "scan", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def scan(
    ctx: typer.Context,
    test_ids: list[str] = typer.Argument(
        None, help="Judge only these tests (the whole suite still runs: any test may pollute)."
    ),
    runs: int = typer.Option(
        10, "--runs", max=MAX_COUNT, help="Reruns of the suite (same and shuffled order)."
    ),
    budget: str | None = typer.Option(
        None, "--budget", help="Stop starting new runs after this long: 90s, 10m."
    ),
    workers: int = typer.Option(1, "--workers", max=MAX_COUNT, help="Reruns to run at once."),
    executor: str | None = typer.Option(
        None, "--executor", help="Where the reruns run: local or ray (default: GREENLINE_EXECUTOR)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", metavar="ADDR", help="The Ray cluster (host:port of its head)."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Rerun the suite to find flaky tests: greenline flaky scan [TEST_ID...] [-- PYTEST_ARGS]

    Runs it again in the collected order, in seeded random orders and each failing test alone
    (fresh processes), judges every test (flaky, stable, failing), and for order-dependent
    tests finds the polluter by delta debugging, and the tests that clean up after it."""
    wanted, pytest_args = split_passthrough(list(test_ids or []))
    seconds = parse_budget(budget, "--budget").limit(0.0) if budget else None
    if workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1", hint="--workers 2")
    flags: dict[str, object] = {"executor": executor, "ray_address": ray_address}
    with state_of(ctx).open_api(flags=flags) as gl, scan_progress() as on_progress:
        report = gl.flaky.scan(
            wanted,
            runs=runs,
            budget_seconds=seconds,
            workers=workers,
            pytest_args=pytest_args,
            progress=on_progress,
        )
    if fmt is Format.json:
        emit_json(views.scan_document(report.verdicts, report.trials, report.seconds))
        return
    flaky = [v for v in report.verdicts if v.verdict is Verdict.FLAKY]
    console.print(
        f"{len(flaky)} flaky of {len(report.verdicts)} tests after {report.trials} runs "
        f"({render.seconds(report.seconds)})"
        + (" (stopped by the budget)" if report.stopped_by_budget else "")
    )
    for v in report.verdicts:
        if v.verdict is Verdict.STABLE:
            continue
        cause = f" ({v.category.value})" if v.verdict is Verdict.FLAKY else ""
        console.print(f"{v.test_id}: {v.verdict.value}{cause}", soft_wrap=True)
        for e in v.evidence:
            console.print(f"  - {e}", soft_wrap=True)


@contextmanager
def scan_progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on a terminal; otherwise one plain line on stderr per phase of the work
    (a scan runs for minutes, and a CI log must show it is alive; stdout stays parseable)."""
    if not err_console.is_terminal:
        yield phase_lines()
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("scanning", total=None)

        def update(what: str, done: int, planned: int) -> None:
            bar.update(task, description=render.sanitize(what), completed=done, total=planned)

        yield update


def phase_lines() -> Callable[[str, int, int], None]:
    """A progress callback that prints a line whenever the phase changes."""
    shown: list[str] = []

    def update(what: str, done: int, planned: int) -> None:
        if shown[-1:] != [what]:
            shown.append(what)
            err_console.print(f"greenline: {what} ({done} of {planned} runs done)", soft_wrap=True)

    return update


class FixFormat(enum.StrEnum):
    diff = "diff"
    json = "json"


@flaky_app.command("fix")
def fix(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="The flaky test to fix."),
    apply: bool = typer.Option(False, "--apply", help="Write the verified patch to the file."),
    workers: int = typer.Option(
        2, "--workers", max=MAX_COUNT, help="Verification runs to run at once."
    ),
    rescan: bool = typer.Option(
        False, "--rescan", help="Scan again even when this commit has a scan to reuse."
    ),
    verify_runs: int = typer.Option(
        60,
        "--verify-runs",
        max=MAX_COUNT,
        help="Runs under the failing condition a patch must pass.",
    ),
    fmt: FixFormat = typer.Option(FixFormat.diff, "--format", "-f", help="Output format."),
) -> None:
    """Find a flaky test's root cause (from this commit's newest scan, or a new one) and a
    patch for it, verified before it is offered: the test must pass 60 of 60 runs under the
    condition that made it fail (after its polluter, other hash seeds), and every other test
    must still pass. Patches restore leaked state, seed random, sort sets, compare float noise
    with a tight pytest.approx or freeze the clock; none removes or loosens an assertion,
    sleeps, retries, skips or marks xfail. Exits 1 when no patch holds."""
    with state_of(ctx).open_api() as gl, scan_progress() as on_progress:
        result = gl.flaky.fix(
            test_id,
            apply=apply,
            workers=workers,
            rescan=rescan,
            verify_runs=verify_runs,
            progress=on_progress,
        )
    if fmt is FixFormat.json:
        emit_json(
            views.fix_document(
                result.verdict,
                result.patch,
                result.verified_runs,
                result.tried,
                result.applied,
                result.scan,
            )
        )
    elif result.patch is not None:
        sys.stdout.write(result.patch.diff())
        err_console.print(
            f"greenline: {result.patch.description}: verified over {result.verified_runs} runs "
            "and the whole suite"
            + (f"; written to {result.patch.path}" if result.applied else "")
            + f" (root cause from {result.scan})",
            soft_wrap=True,
        )
    else:
        err_console.print(
            f"greenline: no verified fix for {test_id} ({result.verdict.category.value})",
            soft_wrap=True,
        )
        for reason in result.tried:
            err_console.print(f"  - {reason}", soft_wrap=True)
    if result.patch is None:
        raise typer.Exit(1)


@flaky_app.command("list")
def list_flaky(
    ctx: typer.Context,
    fmt: Format = FORMAT_OPTION,
    stable: bool = typer.Option(False, "--all", help="Also list the tests judged stable."),
) -> None:
    """Flaky and always-failing tests found in the recorded history, most wasted time first,
    and the tests in quarantine."""
    with state_of(ctx).open_reader() as gl:
        verdicts, quarantined = gl.flaky.listing(include_stable=stable)
    if fmt is Format.json:
        emit_json(views.flaky_document(verdicts, quarantined))
        return
    flaky = [v for v in verdicts if v.verdict is Verdict.FLAKY]
    console.print(
        f"{len(flaky)} flaky, {sum(v.verdict is Verdict.FAILING for v in verdicts)} failing "
        f"every time, {len(quarantined)} in quarantine"
    )
    if verdicts:
        console.print(_verdict_table(verdicts, quarantined))
    if quarantined:
        console.print(_quarantine_table(list(quarantined.values())))


@flaky_app.command("explain")
def explain(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="The test id (as greenline tests lists it)."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """One test's verdict from the recorded history, with the evidence behind it, what its
    newest scan found (root cause, polluters, cleaners) and its quarantine history."""
    with state_of(ctx).open_reader() as gl:
        verdict, entries = gl.flaky.explain(test_id)
        scan = gl.flaky.scanned_verdict(test_id)
        diagnosis = gl.flaky.diagnosis(test_id) if fmt is Format.json else None
    if fmt is Format.json:
        emit_json(views.flaky_explanation_document(verdict, entries, scan, diagnosis))
        return
    label = f" ({verdict.category.value})" if verdict.verdict is Verdict.FLAKY else ""
    only_scanned = scan is not None and verdict == scan[2]  # no recorded history
    if not only_scanned:
        console.print(
            f"{test_id}: {verdict.verdict.value}{label}, confidence {verdict.confidence:.2f}, "
            f"from {verdict.runs} recorded runs ({verdict.failures} failed first time)",
            soft_wrap=True,
        )
        _print_evidence(verdict)
    if scan is not None:
        when, sha, found = scan
        label = f" ({found.category.value})" if found.verdict is Verdict.FLAKY else ""
        console.print(
            f"{test_id + ': ' if only_scanned else ''}newest scan, "
            f"{when:%Y-%m-%d %H:%M} UTC at {sha[:10] if sha else 'no commit'}: "
            f"{found.verdict.value}{label}, failed {found.failures} of {found.runs} runs",
            soft_wrap=True,
        )
        _print_evidence(found)
    for entry in entries:
        console.print(f"  quarantine: {_quarantine_line(entry)}", soft_wrap=True)


def _print_evidence(verdict: FlakyVerdict) -> None:
    for e in verdict.evidence:
        runs = f" [runs {', '.join(map(str, e.run_ids[:10]))}]" if e.run_ids else ""
        console.print(f"  - {e}{runs}", soft_wrap=True)
    if verdict.wasted_seconds:
        console.print(f"  CI time lost to its failures: {render.seconds(verdict.wasted_seconds)}")


@flaky_app.command("quarantine")
def quarantine(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="The test to quarantine."),
    reason: str = typer.Option(..., "--reason", help="Why (an issue link, say)."),
    owner: str | None = typer.Option(None, "--owner", help="Who will fix it."),
    expires: str | None = typer.Option(
        None, "--expires", help="When quarantine ends: 14d, 12h, 2w or a date."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Quarantine a test: under pytest --greenline-quarantine it still runs, but its failure
    does not fail the build. It is released when it expires, by hand, or after a streak of
    passing recorded runs ([tool.greenline] quarantine_release_after)."""
    now = datetime.now(UTC)
    until = parse_expiry(expires, now) if expires else None
    with state_of(ctx).open_api() as gl:
        entry = gl.flaky.quarantine(test_id, reason, owner, until, now=now)
    if fmt is Format.json:
        emit_json(views.quarantine_document(entry))
        return
    console.print(f"quarantined {_quarantine_line(entry)}", soft_wrap=True)


@flaky_app.command("release")
def release(
    ctx: typer.Context,
    test_id: str = typer.Argument(..., help="The quarantined test."),
    reason: str = typer.Option("released by hand", "--reason", help="Why (fixed in #124)."),
) -> None:
    """End a test's quarantine: its failures fail the build again."""
    with state_of(ctx).open_api() as gl:
        gl.flaky.release(test_id, reason)
    console.print(f"released {test_id} from quarantine ({reason})", soft_wrap=True)


def _verdict_table(verdicts: list[FlakyVerdict], quarantined: dict[str, QuarantineEntry]) -> Table:
    table = Table(box=None)
    for column in ("test", "verdict", "cause", "confidence", "failed", "time lost", "quarantined"):
        table.add_column(column, overflow="fold")
    for v in verdicts:
        table.add_row(
            v.test_id,
            v.verdict.value,
            v.category.value if v.verdict is Verdict.FLAKY else "-",
            f"{v.confidence:.2f}",
            f"{v.failures}/{v.runs}",
            render.seconds(v.wasted_seconds),
            "yes" if v.test_id in quarantined else "",
        )
    return table


def _quarantine_table(entries: list[QuarantineEntry]) -> Table:
    table = Table(title="quarantine", box=None)
    for column in ("test", "reason", "owner", "since", "expires"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e.test_id,
            e.reason,
            e.owner or "",
            e.created_at.strftime("%Y-%m-%d"),
            e.expires_at.strftime("%Y-%m-%d %H:%M") if e.expires_at else "never",
        )
    return table


def _quarantine_line(e: QuarantineEntry) -> str:
    parts = [f"{e.test_id}: {e.reason}"]
    if e.owner:
        parts.append(f"owner {e.owner}")
    parts.append(f"since {e.created_at:%Y-%m-%d %H:%M}")
    if e.expires_at:
        parts.append(f"until {e.expires_at:%Y-%m-%d %H:%M}")
    if e.released_at:
        parts.append(f"released {e.released_at:%Y-%m-%d %H:%M} ({e.release_reason})")
    return ", ".join(parts)
