"""``greenline triage``, ``greenline culprit`` and ``greenline revert``: why a run is red, which
commit broke it, and a verified revert on a branch of its own."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer
from rich.text import Text

from greenline import views
from greenline.cli.render import plain
from greenline.cli.state import (
    FORMAT_OPTION,
    MAX_COUNT,
    MAX_INT,
    Format,
    console,
    emit_json,
    err_console,
    state_of,
)
from greenline.model.recovery import CulpritReport, CulpritStatus, RevertReport, TriageReport

#: the text view lists this many tests per cluster, and this many clusters per verdict
SHOWN_PER_CLUSTER = 5
SHOWN_CLUSTERS = 8


def triage_command(
    ctx: typer.Context,
    run_id: int | None = typer.Argument(
        None, min=1, max=MAX_INT, help="The run (default: the newest on this branch)."
    ),
    fix: bool = typer.Option(
        False, "--fix", help="Then find the culprit of the regressions and propose its revert."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Why each failing test of a run failed: infra, setup, quarantined, flaky, already
    failing, a regression of the change (with the files that connect it), suspect flaky or
    unknown. Tests of one failure signature are grouped. With --fix: the whole way back to
    green for this branch's newest red run."""
    if fix:
        if run_id is not None:
            raise typer.BadParameter(
                "--fix works on the newest run of this branch", param_hint="RUN_ID"
            )
        _fix(ctx, fmt)
        return
    with state_of(ctx).open_reader() as gl:
        report = gl.recovery.triage(run_id)
    if fmt is Format.json:
        emit_json(views.triage_document(report))
    else:
        print_triage(report)


def _fix(ctx: typer.Context, fmt: Format) -> None:
    with state_of(ctx).open_api() as gl:
        path = gl.recovery.fix(progress=_progress(fmt))
    if fmt is Format.json:
        emit_json(views.recovery_path_document(path))
        return
    print_triage(path.triage)
    if path.culprit is not None:
        console.print()
        print_culprit(path.culprit)
    if path.revert is not None:
        console.print()
        print_revert(path.revert)
    if path.stopped:
        console.print(plain(f"\nstopped: {path.stopped}", "bold"))


def _progress(fmt: Format) -> Callable[[str, int, int], None]:
    def progress(what: str, probes: int, runs: int) -> None:
        if fmt is Format.text:
            err_console.print(plain(f"greenline: {what} ({probes} probes, {runs} test runs)"))

    return progress


def print_triage(report: TriageReport) -> None:
    where = f" at {report.commit[:10]}" if report.commit else ""
    console.print(plain(f"run {report.run_id}{where}: {len(report.verdicts)} failing", "bold"))
    by_kind: dict[str, dict[str, list[str]]] = {}
    reasons: dict[tuple[str, str], str] = {}
    for v in report.verdicts:
        by_kind.setdefault(v.kind.value, {}).setdefault(v.signature, []).append(v.test_id)
        reasons.setdefault((v.kind.value, v.signature), v.reason)
    for kind, clusters in by_kind.items():
        total = sum(len(ids) for ids in clusters.values())
        console.print(plain(f"\n{kind} ({total})", "bold"))
        for signature, ids in list(clusters.items())[:SHOWN_CLUSTERS]:
            console.print(Text.assemble("  ", plain(signature or "(no message)", "cyan")))
            console.print(plain(f"    {reasons[(kind, signature)]}"))
            for test_id in ids[:SHOWN_PER_CLUSTER]:
                console.print(plain(f"    - {test_id}"))
            if len(ids) > SHOWN_PER_CLUSTER:
                console.print(plain(f"    … and {len(ids) - SHOWN_PER_CLUSTER} more"))
        if len(clusters) > SHOWN_CLUSTERS:
            console.print(plain(f"  … and {len(clusters) - SHOWN_CLUSTERS} more signatures"))


def culprit_command(
    ctx: typer.Context,
    tests: list[str] = typer.Argument(
        None, help="The failing tests (default: those of the newest run at --bad)."
    ),
    good: str = typer.Option(..., "--good", help="A commit where the tests passed."),
    bad: str = typer.Option("HEAD", "--bad", help="A later commit where they fail."),
    runners: int = typer.Option(2, "--runners", min=1, max=MAX_COUNT, help="Probes at once."),
    confidence: float = typer.Option(
        0.99, "--confidence", help="How sure the answer must be (0.5 up to 1)."
    ),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Which first-parent commit in (good, bad] broke the tests, or none (they are flaky):
    probes run the tests at chosen commits in worktrees, rerun where flakiness demands, and the
    culprit is confirmed (its parent passes, it fails) before it is named."""
    with state_of(ctx).open_api() as gl:
        report = gl.recovery.culprit(
            good, bad, tests or [], runners=runners, confidence=confidence, progress=_progress(fmt)
        )
    if fmt is Format.json:
        emit_json(views.culprit_document(report))
    else:
        print_culprit(report)
    if report.answer.status in (CulpritStatus.UNDECIDED, CulpritStatus.AMBIGUOUS):
        raise typer.Exit(1)


def print_culprit(report: CulpritReport) -> None:
    answer = report.answer
    culprit = report.culprit
    if culprit is not None:
        console.print(
            Text.assemble(
                plain("culprit ", "bold red"), plain(f"{culprit.sha[:10]} {culprit.subject}")
            )
        )
        console.print(plain(f"  by {culprit.author}; posterior {answer.posterior:.4f}, confirmed"))
        if report.fixed_later:
            console.print(plain("  a later commit already fixed it: HEAD passes the tests"))
    elif answer.status is CulpritStatus.NO_CULPRIT:
        console.print(
            plain(
                f"no culprit: the failures are flaky (posterior {answer.no_culprit_posterior:.4f})"
            )
        )
    else:
        shas = ", ".join(report.candidates[i].sha[:10] for i in answer.commits)
        console.print(plain(f"{answer.status.value}: {answer.reason} ({shas})"))
    console.print(
        plain(
            f"  {len(report.candidates)} commits, {answer.probes} probes, {report.test_runs} test "
            f"runs, {report.seconds:.1f} s"
        )
    )


def revert_command(
    ctx: typer.Context,
    commit: str = typer.Argument(..., help="The culprit to revert."),
    force: bool = typer.Option(False, "--force", help="Even if no search confirmed it."),
    queue: bool = typer.Option(False, "--queue", help="Put the revert's branch in the queue."),
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Create branch greenline/revert-<sha> reverting COMMIT on HEAD, verified: the failing
    tests pass there and the tests of the files it changes stay green. Your branch and main
    never move."""
    with state_of(ctx).open_api() as gl:
        report = gl.recovery.revert(commit, force=force, queue=queue)
    if fmt is Format.json:
        emit_json(views.revert_document(report))
    else:
        print_revert(report)


def print_revert(report: RevertReport) -> None:
    console.print(plain(f"created {report.branch} ({report.revert_sha[:10]})", "bold green"))
    console.print(
        plain(
            f"  the failing tests passed {report.verified_runs} runs there; "
            f"{len(report.checked)} other tests of its files stay green"
        )
    )
    how = (
        "it is in the merge queue"
        if report.queued
        else f"land it: git push origin {report.branch} (then a pull request), or "
        f"greenline queue add {report.branch}"
    )
    console.print(plain(f"  {how}"))
    sys.stdout.flush()
