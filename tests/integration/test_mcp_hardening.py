"""MCP answers over a store written before durations and command lines were checked: every
answer is strict JSON and no password comes back."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from greenline.api import Greenline
from greenline.store.schema import results, runs
from tests.integration.test_mcp_server import DATA, call_server


def test_tools_answer_strict_json_without_secrets(git_repo: Path) -> None:
    with Greenline.open(git_repo) as gl:
        run = gl.runs.import_junit([DATA / "ant.xml"])
        with gl.store.write() as conn:
            conn.execute(sa.update(results).values(duration=float("inf")))
            conn.execute(
                sa.update(runs).values(args="-q --greenline-db postgresql://u:hunter2@h/db")
            )
    answers = call_server(
        git_repo, [("list_runs", {}), ("get_run", {"run_id": run.id, "include": "all"})]
    )
    texts = []
    for key in ("list_runs{}", f'get_run{{"include": "all", "run_id": {run.id}}}'):
        answer = answers[key]
        assert not answer.is_error, answer.content
        texts.append(answer.content[0].text)

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    listed, shown = (json.loads(text, parse_constant=refuse) for text in texts)
    assert listed["runs"][0]["args"] == "-q --greenline-db postgresql://u:***@h/db"
    assert {r["duration"] for r in shown["results"]} == {None}
    assert "hunter2" not in "".join(texts)
