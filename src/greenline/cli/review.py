"""``greenline review``: where a change's risk is, for the person reviewing it."""

from __future__ import annotations

import enum
import sys

import typer

from greenline import views
from greenline.cli.state import console, emit_json, state_of
from greenline.model.review import ReviewDigest


class ReviewFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


#: the rows of each list text output shows
TEXT_ROWS = 30


def review_command(
    ctx: typer.Context,
    base: str | None = typer.Option(
        None,
        "--base",
        metavar="REV",
        help="Where the change starts (default: the merge-base of HEAD with the default branch).",
    ),
    likely: int = typer.Option(
        10, "--likely", min=0, max=1000, help="How many of the most likely failures to name."
    ),
    fmt: ReviewFormat = typer.Option(ReviewFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Review digest of the change since --base: the changed functions and the tests that ran
    each, those no test runs, the tests most likely to fail, flaky tests in its path and open
    code-quality findings in its files."""
    with state_of(ctx).open_reader() as gl:
        digest = gl.review.digest(base, likely=likely)
    if fmt is ReviewFormat.json:
        emit_json(views.review_document(digest))
    elif fmt is ReviewFormat.markdown:
        from greenline.api.review_markdown import render_markdown

        sys.stdout.write(render_markdown(digest))
        sys.stdout.flush()
    else:
        _print_text(digest)


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _rows(lines: list[str], what: str) -> None:
    for line in lines[:TEXT_ROWS]:
        _say(f"  {line}")
    if len(lines) > TEXT_ROWS:
        _say(f"  … and {len(lines) - TEXT_ROWS} more {what} (--format json lists all)")


def _print_text(d: ReviewDigest) -> None:
    head = f"change since {d.base[:12]}: {len(d.change.files)} files, "
    head += f"{len(d.functions)} changed functions"
    if d.baseline_run_id is not None:
        head += f", {len(d.untested)} that no test runs (baseline run {d.baseline_run_id})"
    _say(head)
    for note in d.notes:
        _say(f"note: {note}")
    if d.baseline_run_id is not None and d.untested:
        _say("changed functions that no test runs:")
        _rows([f"{f.path}::{f.name} ({f.status.value})" for f in d.untested], "functions")
    tested = [f for f in d.functions if f.tests or f.ran_at_import]
    if tested:
        _say("changed functions and the tests that ran them:")
        lines = []
        for f in tested:
            at_import = ", and when the module is imported" if f.ran_at_import else ""
            count = f"{len(f.tests)} test" + ("" if len(f.tests) == 1 else "s")
            lines.append(f"{f.path}::{f.name} ({f.status.value}): {count}{at_import}")
            lines += [f"    {t}" for t in f.tests[:5]]
            if len(f.tests) > 5:
                lines.append(f"    … and {len(f.tests) - 5} more")
        _rows(lines, "lines")
    if d.full_suite is not None:
        _say(f"every test should run: {d.full_suite.detail}")
    elif d.likely:
        _say(f"most likely to fail ({d.selected_tests} of {d.baseline_tests} tests selected):")
        _rows([f"{t.likelihood:.2f}  {t.test_id}" for t in d.likely], "tests")
    if d.flaky:
        _say("flaky tests in the change's path:")
        _rows(
            [
                f"{f.verdict.test_id} ({f.verdict.category.value}"
                + (", quarantined" if f.quarantined else "")
                + f"): {f.why}"
                for f in d.flaky
            ],
            "tests",
        )
    if d.findings:
        _say("open code-quality findings in the changed files:")
        _rows(
            [
                f"{c.path}:{c.start_line or '?'} {c.rule_id} ({c.severity}): {c.message}"
                for c in d.findings
            ],
            "findings",
        )
