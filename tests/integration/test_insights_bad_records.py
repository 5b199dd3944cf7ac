"""One bad record never aborts an ingest: GitHub runs and jobs and CircleCI workflows with
values no reader expects (an attempt that is text, NaN or out of range, a time out of range,
a branch that is a list) are reported by file and index, with the reason, and the rest of
the file is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenline.errors import ForgeError
from greenline.forge import circleci, github
from greenline.store.warehouse import Warehouse, connect_duckdb

CI = Path(__file__).parent.parent / "data" / "circleci"


def gh_run(run_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": "CI",
        "path": ".github/workflows/ci.yml",
        "head_branch": "main",
        "status": "completed",
        "conclusion": "success",
        "created_at": "2026-03-02T10:00:00Z",
        "run_started_at": "2026-03-02T10:00:00Z",
        "updated_at": "2026-03-02T10:05:00Z",
        "run_attempt": 1,
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        **fields,
    }


def stored_ids(warehouse: Warehouse) -> list[str]:
    con = connect_duckdb()
    warehouse.attach(con)
    try:
        return [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    finally:
        con.close()


def test_github_bad_numbers_skip_their_record_only(tmp_path: Path) -> None:
    runs = [
        gh_run(1),
        gh_run(2, run_attempt="x"),
        gh_run(3, run_attempt=float("nan")),  # json.dumps writes NaN, as some tools do
        gh_run(4, run_attempt=2**40),
        gh_run(5, run_attempt=0),
        gh_run(6, created_at="0001-01-01T00:00:00+01:00"),
        gh_run(7, run_attempt="2"),
    ]
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"workflow_runs": runs}))
    jobs = tmp_path / "jobs.json"
    job = {"id": 70, "run_id": 7, "name": "t", "status": "completed", "conclusion": "success"}
    bad_job = {**job, "id": 71, "run_attempt": 1.5}
    url = "https://api.github.com/repos/acme/shop/actions/jobs/70"
    jobs.write_text(json.dumps({"jobs": [{**job, "url": url}, {**bad_job, "url": url}]}))

    batch = github.read_files([path, jobs])

    assert [(r.run_id, r.attempt) for r in batch.runs] == [("1", 1), ("7", 2)]
    assert [j.job_id for j in batch.jobs] == ["70"]
    assert [(p.location, p.reason) for p in batch.problems] == [
        ("runs.json: workflow_runs[1]", "run_attempt is not a whole number: 'x'"),
        ("runs.json: workflow_runs[2]", "run_attempt is not a whole number: nan"),
        ("runs.json: workflow_runs[3]", f"run_attempt {2**40} is out of range (1 to {2**31 - 1})"),
        ("runs.json: workflow_runs[4]", "run_attempt 0 is out of range (1 to 2147483647)"),
        (
            "runs.json: workflow_runs[5]",
            "created_at is out of range in UTC: '0001-01-01T00:00:00+01:00'",
        ),
        ("jobs.json: jobs[1]", "run_attempt is not a whole number: 1.5"),
    ]
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(batch.runs, batch.jobs)
    assert stored_ids(warehouse) == ["1", "7"], "the good records of the file are stored"


def test_circleci_bad_values_skip_their_record_only(tmp_path: Path) -> None:
    pipelines = {
        "items": [
            item
            for name in ("pipelines-1.json", "pipelines-2.json")
            for item in json.loads((CI / name).read_text())["items"]
        ]
    }
    workflows = json.loads((CI / "workflows-p1.json").read_text())
    good = workflows["items"][0]
    pipeline_id = good["pipeline_id"]
    odd_pipeline = {**pipelines["items"][0], "id": "p-odd", "vcs": {"branch": ["main"]}}
    pipelines["items"].append(odd_pipeline)
    workflows["items"] = [
        good,
        {**good, "id": "w-early", "created_at": "0001-01-01T00:00:00+01:00"},
        {**good, "id": "w-late", "stopped_at": "9999-12-31T23:59:59-01:00"},
        {**good, "id": "w-odd", "pipeline_id": "p-odd"},
    ]
    files = []
    for name, doc in (("pipelines.json", pipelines), ("workflows.json", workflows)):
        files.append(tmp_path / name)
        files[-1].write_text(json.dumps(doc))

    batch = circleci.read_files(files)

    assert [r.run_id for r in batch.runs] == [good["id"]]
    assert batch.runs[0].branch == _branch_of(pipelines, pipeline_id)
    assert [(p.location, p.reason) for p in batch.problems] == [
        (f"pipelines.json: items[{len(pipelines['items']) - 1}]", "vcs.branch is list, not text"),
        (
            "workflows.json: items[1]",
            "created_at is out of range in UTC: '0001-01-01T00:00:00+01:00'",
        ),
        (
            "workflows.json: items[2]",
            "stopped_at is out of range in UTC: '9999-12-31T23:59:59-01:00'",
        ),
        ("workflows.json: items[3]", "its pipeline p-odd is in none of the files"),
    ]
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(batch.runs, batch.jobs)
    assert stored_ids(warehouse) == [good["id"]]


def _branch_of(pipelines: dict[str, Any], pipeline_id: str) -> str:
    return next(p["vcs"]["branch"] for p in pipelines["items"] if p["id"] == pipeline_id)


def test_a_next_link_to_another_origin_is_refused_and_gets_no_token() -> None:
    seen: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/repos/acme/shop":
            return httpx.Response(200, json={"default_branch": "main"})
        if request.url.params.get("page") == "2":  # the last page, wherever it is
            return httpx.Response(200, json={"workflow_runs": []})
        link = "https://api.github.com.evil.example/repos/acme/shop/actions/runs?page=2"
        return httpx.Response(
            200, json={"workflow_runs": [gh_run(1)]}, headers={"link": f'<{link}>; rel="next"'}
        )

    client = github.GitHubClient("s3cret", transport=httpx.MockTransport(transport))
    with pytest.raises(ForgeError, match=r"api\.github\.com\.evil\.example, .* not followed"):
        github.fetch(client, "acme/shop", None, with_jobs=False)
    assert {r.url.host for r in seen} == {"api.github.com"}
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in seen)
    # the API's own origin is followed, relative or absolute
    same = github.GitHubClient("s3cret", transport=httpx.MockTransport(transport))
    pages = list(same.pages("https://api.github.com/repos/acme/shop/actions/runs", {"page": "2"}))
    assert pages == [{"workflow_runs": []}]
    for other in ("http://api.github.com/x", "https://api.github.com:444/x", "//evil.example/x"):
        with pytest.raises(ForgeError, match="not followed"):
            same.get(other)
