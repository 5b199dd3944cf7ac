"""``greenline select``: the tests the working tree's change can break, and why."""

from __future__ import annotations

import enum
import sys
from typing import Any

import typer

from greenline.cli.state import console, emit_json, err_console, state_of
from greenline.cli.teamserver import SERVER_OPTION, checkout_root, open_server
from greenline.errors import NoDataError, ServerUnavailableError
from greenline.model import Change, Reason, ReasonKind, SelectionPlan
from greenline.selection import make_budget

#: how many selected tests the text output lists unless --all asks for every one
ROWS = 50


class SelectFormat(enum.StrEnum):
    ids = "ids"
    args = "args"
    text = "text"
    json = "json"


def select_tests(
    ctx: typer.Context,
    base: str | None = typer.Option(
        None, "--base", metavar="REV", help="Judge against the baseline run at this commit."
    ),
    fmt: SelectFormat = typer.Option(SelectFormat.text, "--format", "-f", help="Output format."),
    explain: bool = typer.Option(
        False, "--explain", help="Show the reasons, grouped, and each listed test's own."
    ),
    show_all: bool = typer.Option(
        False, "--all", help=f"List every selected test (text lists the first {ROWS})."
    ),
    why: str | None = typer.Option(
        None, "--why", metavar="TEST_ID", help="Say why one test was or was not selected."
    ),
    budget: str | None = typer.Option(
        None,
        "--budget",
        metavar="LIMIT",
        help="Keep only what fits, most likely to fail first: 10% (of the suite's time), 90s, 2m.",
    ),
    confidence: str | None = typer.Option(
        None,
        "--confidence",
        metavar="P",
        help="Keep tests, most likely to fail first, until they hold this share of the change's "
        "estimated failures: 0.99 or 99%.",
    ),
    server: str | None = SERVER_OPTION,
) -> None:
    """Select the tests the change since the baseline can break, most likely to fail first.

    With --format args the output feeds pytest whole, one NUL-terminated id each (ids with
    spaces or brackets included): greenline select -f args | xargs -0 pytest. --format ids
    prints one per line. Both print nothing when everything must run (pytest then runs the
    whole suite); pytest --greenline-select=deselect does all of it in one step.
    """
    limit = make_budget(budget, confidence)
    doc = None
    if server:
        doc, plan = _plan_on_server(ctx, server, base, budget, confidence, why is not None)
    else:
        with state_of(ctx).open_reader() as gl:
            plan = gl.selection.plan(base, limit)
    if plan.full_suite is not None:
        err_console.print(f"greenline: running the full suite: {plan.full_suite.detail}")
    if why is not None:
        _print_why(plan, why)
    elif fmt is SelectFormat.json:
        from greenline import views  # JSON only: the ids and the table need none of it

        emit_json(doc or views.selection_document(plan))
    elif fmt in (SelectFormat.ids, SelectFormat.args):
        if plan.full_suite is None:
            lines = [t.test_id for t in plan.selected] + list(plan.new_test_files)
            end = "\0" if fmt is SelectFormat.args else "\n"
            sys.stdout.write("".join(f"{line}{end}" for line in lines))
    else:
        _print_plan(plan, explain, None if show_all else ROWS)


def _plan_on_server(
    ctx: typer.Context,
    url: str,
    base: str | None,
    budget: str | None,
    confidence: str | None,
    with_unaffected: bool,
) -> tuple[dict[str, Any] | None, SelectionPlan]:
    """The server's plan; a server that does not answer means everything runs (fail open)."""
    from greenline.api.teamserver import plan_on_server

    with open_server(ctx, url) as client:
        try:
            return plan_on_server(
                client,
                checkout_root(ctx),
                base=base,
                budget=budget,
                confidence=confidence,
                with_unaffected=with_unaffected,
            )
        except ServerUnavailableError as exc:
            why = Reason(ReasonKind.FULL_SUITE, exc.message)
            return None, SelectionPlan(None, None, (), (), 0.0, full_suite=why)


def _summary(plan: SelectionPlan) -> str:
    from greenline.cli import render  # rich: the text output only

    total = len(plan.selected) + len(plan.over_budget) + len(plan.unaffected)
    share = plan.selected_duration / plan.suite_duration if plan.suite_duration else 1.0
    base = (plan.base or "?")[:10]
    return (
        f"{len(plan.selected)} of {total} tests selected "
        f"({render.seconds(plan.selected_duration)} of {render.seconds(plan.suite_duration)}, "
        f"{share:.0%} of the suite's time), against run {plan.baseline_run_id} at {base}"
    )


def _print_plan(plan: SelectionPlan, explain: bool, rows: int | None) -> None:
    from greenline.cli.render import plain

    if explain and plan.change is not None:
        console.print(plain(_change_line(plan.change)), soft_wrap=True)
    console.print(_summary(plan))
    if explain and plan.full_suite is None and plan.selected:
        console.print(
            f"ordered by estimated failure probability per second ({plan.ranker})", soft_wrap=True
        )
        if not plan.ranking_informative:
            alike = plan.selected[0].likelihood
            console.print(
                "the estimated probabilities are uninformative here: every candidate alike "
                f"(p(fail) {alike:.2f}), so the order, and what a budget keeps, follow "
                "duration alone",
                soft_wrap=True,
            )
    if plan.over_budget:
        console.print(f"{len(plan.over_budget)} more affected tests did not fit the budget")
    if plan.full_suite is not None:
        return
    if explain and plan.selected:
        console.print(_reasons_table(plan, rows))
    _print_tests(plan, explain, rows)


def _print_tests(plan: SelectionPlan, explain: bool, rows: int | None) -> None:
    """The selected tests in run order (the first ``rows`` of them), then the new files."""
    from rich.box import ROUNDED  # rich: the text output only
    from rich.table import Table

    from greenline.cli import render

    table = Table(show_header=explain, box=None if not explain else ROUNDED)
    table.add_column("test", overflow="fold")
    if explain:
        table.add_column("time", justify="right")
        table.add_column("p(fail)", justify="right")
        table.add_column("why", overflow="fold")
    listed = plan.selected if rows is None else plan.selected[:rows]
    for test in listed:
        if explain:
            why = "\n".join(str(r) for r in test.reasons)
            p = f"{test.likelihood:.2f}"
            table.add_row(test.test_id, render.seconds(test.duration), p, why)
        else:
            table.add_row(test.test_id)
    for path in plan.new_test_files:
        row = ["-", "-", "new-test-file: never run in the baseline"]
        table.add_row(path, *(row if explain else []))
    if listed or plan.new_test_files:
        console.print(table)
    left = len(plan.selected) - len(listed)
    if left:
        console.print(
            f"{left} more selected tests not listed ({len(listed)} of {len(plan.selected)} "
            "shown): --all lists every one, -f ids prints the ids",
            soft_wrap=True,
        )


def reason_groups(plan: SelectionPlan) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Each kind of reason with how many selected tests it brought in, and its details (the
    changed blocks, the files imported…) each with its tests, most tests first."""
    tests: dict[str, int] = {}
    details: dict[str, dict[str, int]] = {}
    for test in plan.selected:
        for kind in dict.fromkeys(r.kind.value for r in test.reasons):
            tests[kind] = tests.get(kind, 0) + 1
        for reason in dict.fromkeys(test.reasons):
            found = details.setdefault(reason.kind.value, {})
            found[reason.detail] = found.get(reason.detail, 0) + 1
    return [
        (kind, n, sorted(details[kind].items(), key=lambda kv: (-kv[1], kv[0])))
        for kind, n in sorted(tests.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


#: the details a reason group names in the text (the rest are counted)
EXAMPLES = 3


def _reasons_table(plan: SelectionPlan, rows: int | None) -> Any:
    from rich.table import Table

    table = Table(title="why the tests are selected", title_justify="left")
    table.add_column("reason")
    table.add_column("tests", justify="right")
    table.add_column("what", overflow="fold")
    for kind, n, details in reason_groups(plan):
        shown = details if rows is None else details[:EXAMPLES]
        what = ", ".join(f"{d} ({c})" if d else f"({c})" for d, c in shown)
        if len(details) > len(shown):
            what += f", and {len(details) - len(shown)} more"
        table.add_row(kind, str(n), what)
    return table


def _change_line(change: Change) -> str:
    python = sum(1 for f in change.files if f.path.endswith(".py"))
    line = f"change since {change.base[:10]}: {len(change.files)} files ({python} Python)"
    if change.ignored:
        shown = ", ".join(f"{path} ({why})" for path, why in change.ignored[:3])
        more = f" and {len(change.ignored) - 3} more" if len(change.ignored) > 3 else ""
        line += f"; left out: {shown}{more}"
    return line


def _print_why(plan: SelectionPlan, test_id: str) -> None:
    chosen = next((t for t in plan.selected if t.test_id == test_id), None)
    if chosen is not None:
        place = plan.selected.index(chosen) + 1
        console.print(
            f"{test_id} is selected ({place} of {len(plan.selected)} in run order, "
            f"estimated p(fail) {chosen.likelihood:.2f}, {plan.ranker}):"
        )
        for reason in chosen.reasons:
            console.print(f"  - {reason}")
    elif test_id in plan.over_budget:
        console.print(f"{test_id} is affected by the change but did not fit the budget")
    elif test_id in plan.unaffected:
        console.print(
            f"{test_id} is not selected: it ran none of the changed code in baseline run "
            f"{plan.baseline_run_id}, and it passed there"
        )
    elif any(test_id.split("::", 1)[0] == path for path in plan.new_test_files):
        console.print(f"{test_id} runs: its file is new since the baseline")
    else:
        raise NoDataError(
            f"{test_id} is not in baseline run {plan.baseline_run_id}: greenline cannot judge "
            "it (pytest --greenline-select runs tests the baseline never saw)",
            hint=f"the baseline's tests: greenline run show {plan.baseline_run_id} --all",
        )
