"""Ingesting workflow runs: GitHub Actions and CircleCI payloads (saved files, and live through an
httpx mock transport with pagination and rate limits), idempotent re-ingest, malformed records
reported by location, bulk tables, and greenline's own runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenline.api import Greenline
from greenline.errors import ForgeError, InputError
from greenline.forge import circleci, github
from greenline.model import CommitInfo
from greenline.model.delivery import Conclusion
from greenline.store.warehouse import IngestCount, Warehouse, connect_duckdb

DATA = Path(__file__).parent.parent / "data"
GH = DATA / "github"
CI = DATA / "circleci"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def stored(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    con = connect_duckdb()
    warehouse.attach(con)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_github_files_are_read_and_reingesting_changes_nothing(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w")
    batch = github.read_files([GH / "runs-page-1.json", GH / "runs-page-2.json"])
    assert batch.problems == []
    rerun = next(r for r in batch.runs if r.run_id == "9004")
    assert (rerun.attempt, rerun.conclusion, rerun.default_branch) == (2, Conclusion.SUCCESS, True)
    assert rerun.started_at == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    assert rerun.finished_at == datetime(2026, 3, 2, 12, 40, tzinfo=UTC)
    running = next(r for r in batch.runs if r.run_id == "9005")
    assert running.conclusion is Conclusion.RUNNING and running.finished_at is None
    cancelled = next(r for r in batch.runs if r.run_id == "9002")
    assert (cancelled.conclusion, cancelled.default_branch) == (Conclusion.CANCELLED, False)

    assert warehouse.ingest(batch.runs)["runs"] == IngestCount(5, 0, 0)
    files = warehouse.manifest()
    assert warehouse.ingest(batch.runs)["runs"] == IngestCount(0, 0, 5)
    assert warehouse.manifest() == files, "an unchanged re-ingest writes nothing"
    # the run that was going has finished: it is replaced, the others stay
    later = github.read_files([GH / "runs-page-1-later.json"])
    assert warehouse.ingest(later.runs)["runs"] == IngestCount(0, 1, 2)
    assert stored(warehouse, "SELECT run_id, conclusion FROM runs ORDER BY run_id") == [
        ("9001", "success"),
        ("9002", "cancelled"),
        ("9003", "failure"),
        ("9004", "success"),
        ("9005", "failure"),
    ]
    assert len(list((tmp_path / "w" / "runs").glob("*/*.parquet"))) == len(
        warehouse.manifest()["runs"]
    ), "superseded files are removed"


def test_malformed_records_are_reported_by_location_and_the_rest_is_kept(tmp_path: Path) -> None:
    batch = github.read_files([GH / "runs-malformed.json"])
    assert [r.run_id for r in batch.runs] == ["9101"]
    assert [(p.location, p.reason) for p in batch.problems] == [
        (
            "runs-malformed.json: workflow_runs[1]",
            "created_at has no time zone: '2026-03-02T09:10:00'",
        ),
        (
            "runs-malformed.json: workflow_runs[2]",
            "conclusion 'exploded' is not one GitHub gives for a completed run",
        ),
        ("runs-malformed.json: workflow_runs[3]", "a record is an object, not str"),
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{"workflow_runs": [')
    with pytest.raises(InputError, match=r"broken.json:1:\d+: not JSON"):
        github.read_files([broken])
    with pytest.raises(InputError, match="not a GitHub Actions response"):
        github.read_files([CI / "pipelines-1.json"])


def test_bad_bulk_tables_store_nothing(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w")
    warehouse.ingest(github.read_files([GH / "runs-page-2.json"]).runs)
    before = warehouse.manifest()
    table = tmp_path / "runs.csv"
    header = "provider,repository,workflow,run_id,attempt,branch,default_branch,conclusion,"
    header += "created_at,started_at,finished_at,event,commit\n"
    good = "ci,acme/big,CI,1,1,main,true,success,2026-01-05 10:00:00,2026-01-05 10:00:00,"
    good += "2026-01-05 10:07:00,push,abc\n"
    table.write_text(header + good + good.replace(",1,1,", ",2,1,").replace("success", "exploded"))
    with pytest.raises(InputError, match="1 run record"):
        warehouse.ingest_table(table)
    assert warehouse.manifest() == before, "nothing half-written"
    table.write_text(header + good + good.replace(",1,1,", ",2,1,"))
    assert warehouse.ingest_table(table)["runs"] == IngestCount(2, 0, 0)
    assert warehouse.ingest_table(table)["runs"] == IngestCount(0, 0, 2)
    # a key twice in one table: the later record wins; one already stored is replaced
    twice = good.replace(",1,1,", ",3,1,")
    table.write_text(
        header + twice + twice.replace("success", "failure") + good.replace("abc", "abd")
    )
    assert warehouse.ingest_table(table)["runs"] == IngestCount(1, 1, 0)
    rows = "SELECT run_id, conclusion, \"commit\" FROM runs WHERE repository = 'acme/big'"
    assert stored(warehouse, rows + " ORDER BY 1") == [
        ("1", "success", "abd"),
        ("2", "success", "abc"),
        ("3", "failure", "abc"),
    ]
    with pytest.raises(InputError, match=r"reads \.parquet or \.csv"):
        warehouse.ingest_table(GH / "repo.json")


class Recorded:
    """A mock transport serving recorded responses by path (and page), logging requests."""

    def __init__(self, routes: dict[str, list[httpx.Response]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.url.path}?{request.url.params}"
        for route in (key, request.url.path):
            if self.routes.get(route):
                queue = self.routes[route]
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(200, json={"total_count": 0, "jobs": [], "items": []})


def test_a_live_github_fetch_pages_waits_out_the_rate_limit_and_resumes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    runs_url = "https://api.github.com/repos/acme/shop/actions/runs"
    first = httpx.Response(
        200,
        json=load(GH / "runs-page-1.json"),
        headers={"link": f'<{runs_url}?per_page=100&page=2>; rel="next"'},
    )
    limited = httpx.Response(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
    )
    second = httpx.Response(200, json=load(GH / "runs-page-2.json"))
    transport = Recorded(
        {
            "/repos/acme/shop": [httpx.Response(200, json=load(GH / "repo.json"))],
            "/repos/acme/shop/actions/runs": [first],
            "/repos/acme/shop/actions/runs?per_page=100&page=2": [limited, second],
            "/repos/acme/shop/actions/runs/9003/attempts/1/jobs": [
                httpx.Response(200, json=load(GH / "jobs-9003.json"))
            ],
        }
    )
    slept: list[float] = []
    client = github.GitHubClient(
        "secret-token",
        transport=httpx.MockTransport(transport),
        sleep=slept.append,
        clock=lambda: 1000.0,
    )
    batch = github.fetch(client, "acme/shop", since=None)
    assert slept == [30.0], "waited until the limit's reset"
    assert sorted(r.run_id for r in batch.runs) == ["9001", "9002", "9003", "9004", "9005"]
    assert sorted((j.name, j.conclusion.value) for j in batch.jobs) == [
        ("lint", "success"),
        ("test", "failure"),
    ]
    assert transport.requests[0].headers["authorization"] == "Bearer secret-token"

    with Greenline.open(tmp_path) as gl:
        gl.insights.warehouse.ingest(batch.runs, batch.jobs)
        again = Recorded({"/repos/acme/shop": [httpx.Response(200, json=load(GH / "repo.json"))]})
        counts, _ = gl.insights.fetch_github("acme/shop", transport=httpx.MockTransport(again))
        assert counts["runs"] == IngestCount(0, 0, 0)
        runs_request = next(r for r in again.requests if r.url.path.endswith("/actions/runs"))
        # resumes a day before the newest run stored (16:00 on 2 March)
        assert runs_request.url.params["created"] == ">=2026-03-01T16:00:00Z"


def test_a_rate_limit_far_away_stops_the_fetch_with_a_hint() -> None:
    transport = Recorded(
        {
            "/repos/acme/shop": [
                httpx.Response(429, headers={"retry-after": "7200"}, json={"message": "slow down"})
            ]
        }
    )
    client = github.GitHubClient(None, transport=httpx.MockTransport(transport), max_wait=600)
    with pytest.raises(ForgeError, match="rate limit is spent for 120 more minutes") as caught:
        github.fetch(client, "acme/shop", since=None)
    assert "resumes where it stopped" in str(caught.value)
    with pytest.raises(InputError, match="is not OWNER/REPO"):
        github.fetch(client, "acme", since=None)


def test_circleci_pages_files_and_live(tmp_path: Path) -> None:
    names = ["pipelines-1.json", "pipelines-2.json", "workflows-p1.json", "workflows-p2.json"]
    batch = circleci.read_files([CI / n for n in [*names, "jobs-w1.json"]])
    assert batch.problems == []
    by_name = {(r.workflow, r.commit[:1]): r for r in batch.runs}
    assert by_name[("build-and-test", "a")].conclusion is Conclusion.FAILURE
    assert by_name[("deploy", "b")].conclusion is Conclusion.INFRA_FAILURE
    assert {r.repository for r in batch.runs} == {"acme/shop"}
    assert sorted(j.name for j in batch.jobs) == ["lint", "test"]
    orphan = circleci.read_files([CI / "workflows-p1.json"])
    assert orphan.runs == [] and "its pipeline" in orphan.problems[0].reason

    wid = load(CI / "jobs-w1.json")["workflow_id"]
    jobs = load(CI / "jobs-w1.json")
    del jobs["workflow_id"]
    transport = Recorded(
        {
            "/api/v2/project/gh/acme/shop": [httpx.Response(200, json=load(CI / "project.json"))],
            "/api/v2/project/gh/acme/shop/pipeline": [
                httpx.Response(429, headers={"retry-after": "5"}),
                httpx.Response(200, json=load(CI / "pipelines-1.json")),
            ],
            "/api/v2/project/gh/acme/shop/pipeline?page-token=tok-2": [
                httpx.Response(200, json=load(CI / "pipelines-2.json"))
            ],
            "/api/v2/pipeline/2b4b1a3c-0000-4000-8000-000000000001/workflow": [
                httpx.Response(200, json=load(CI / "workflows-p1.json"))
            ],
            "/api/v2/pipeline/2b4b1a3c-0000-4000-8000-000000000002/workflow": [
                httpx.Response(200, json=load(CI / "workflows-p2.json"))
            ],
            f"/api/v2/workflow/{wid}/job": [httpx.Response(200, json=jobs)],
        }
    )
    slept: list[float] = []
    client = circleci.CircleClient(
        "circle-token", transport=httpx.MockTransport(transport), sleep=slept.append
    )
    live = circleci.fetch(client, "gh/acme/shop", since=None, save=tmp_path / "saved")
    assert slept == [5.0]
    assert sorted(r.run_id for r in live.runs) == sorted(r.run_id for r in batch.runs)
    assert sorted(j.name for j in live.jobs) == ["lint", "test"]
    assert transport.requests[0].headers["circle-token"] == "circle-token"
    # what --save keeps reads back the same
    again = circleci.read_files(sorted((tmp_path / "saved").glob("*.json")))
    assert sorted(r.run_id for r in again.runs) == sorted(r.run_id for r in live.runs)


def test_greenline_s_own_runs_become_workflow_runs(git_repo: Path) -> None:
    with Greenline.open(git_repo) as gl:
        on = {"commit": CommitInfo(sha="f" * 40, branch="main"), "with_environment": False}
        passed = gl.runs.start_run("pytest", **on)  # type: ignore[arg-type]
        gl.runs.finish_run(passed, 0, complete=True)
        failed = gl.runs.start_run("pytest", **on)  # type: ignore[arg-type]
        gl.runs.finish_run(failed, 1, complete=True)
        killed = gl.runs.start_run("pytest", **on)  # type: ignore[arg-type]
        gl.runs.finish_run(killed, None, complete=False)
        gl.runs.start_run("pytest", commit=CommitInfo(sha="e" * 40, branch="topic"))  # still going
        gl.runs.import_junit([DATA / "junit" / "ant.xml"], commit=CommitInfo(branch="main"))
        counts, batch = gl.insights.ingest_own_runs()
        assert counts["runs"] == IngestCount(5, 0, 0)
        assert sorted(
            (r.workflow, r.branch, r.conclusion.value, r.default_branch) for r in batch.runs
        ) == [
            ("junit", "main", "failure", True),  # its report has a failure
            ("pytest", "main", "cancelled", True),  # killed before it ended
            ("pytest", "main", "failure", True),
            ("pytest", "main", "success", True),
            ("pytest", "topic", "running", False),
        ]
        assert {r.provider for r in batch.runs} == {"greenline"}
        assert gl.insights.ingest_own_runs()[0]["runs"] == IngestCount(0, 0, 5)
