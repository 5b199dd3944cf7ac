"""``greenline ranking show|learn``: the model that orders selected tests, learned from history."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from greenline import views
from greenline.cli.state import FORMAT_OPTION, Format, console, emit_json, state_of
from greenline.selection import learn

ranking_app = typer.Typer(
    help="How selected tests are ordered: the heuristic, or a model learned from history.",
    no_args_is_help=True,
)


@ranking_app.command("show")
def show(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Which ranking selection uses now, and what history there is to learn from."""
    with state_of(ctx).open_reader() as gl:
        examples = gl.selection.ranking_examples()
        doc = gl.selection.ranking_model()
    failing = sum(e.failed for e in examples)
    if fmt is Format.json:
        emit_json(views.ranking_document(doc, len(examples), failing))
        return
    console.print(
        f"history: {len(examples)} examples ({failing} failing) from "
        f"{len({e.run_id for e in examples})} recorded runs with a change; learning needs "
        f"{learn.MIN_EXAMPLES} and {learn.MIN_FAILURES} failing",
        soft_wrap=True,
    )
    if doc is None:
        console.print("ranking: heuristic (no model learned yet)")
        return
    _print_model(doc)


@ranking_app.command("learn")
def learn_now(ctx: typer.Context, fmt: Format = FORMAT_OPTION) -> None:
    """Learn a ranking model from the store's history now (recording also does this on its own
    as history grows). Needs scikit-learn: pip install 'greenline[learn]'."""
    with state_of(ctx).open_api() as gl:
        doc = gl.selection.learn_ranking()
    assert doc is not None
    if fmt is Format.json:
        emit_json(views.ranking_document(doc, int(doc["examples"]), int(doc["failing"])))
        return
    _print_model(doc)


def _print_model(doc: dict[str, Any]) -> None:
    held = doc.get("held_out", {})
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", f"{doc.get('id', '?')} ({len(doc['trees'])} trees)")
    table.add_row("learned from", f"{doc['examples']} examples, {doc['failing']} failing")
    if "auc_model" in held:
        table.add_row(
            "held out",
            f"{held['examples']} examples of the newest runs: AUC {held['auc_model']:.3f} "
            f"(heuristic {held['auc_heuristic']:.3f})",
        )
    else:
        table.add_row("held out", "too few failures in the newest runs to compare")
    verdict = "in use" if doc["adopted"] else "not used: it ranked no better than the heuristic"
    table.add_row("status", verdict)
    console.print(table)
