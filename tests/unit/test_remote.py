"""The team server's client at the network edge (an httpx MockTransport stands in for the
server): retries with exponential backoff and jitter, bounded in time; refusals are not retried;
a request that may have reached the server is not sent twice unless it is idempotent; bodies
are gzip-compressed; the token never appears in an error."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable

import httpx
import pytest

from greenline import views
from greenline.errors import ServerError, ServerUnavailableError, UsageError
from greenline.model import (
    Block,
    CommitInfo,
    Outcome,
    Reason,
    ReasonKind,
    SelectedTest,
    SelectionPlan,
    TestResult,
)
from greenline.remote import MAX_DELAY, RunUpload, ServerClient, batch_body, plan_of

TOKEN = "glt_secret-token-value"


class Clock:
    """Time that passes only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock, retry: float = 30.0
) -> ServerClient:
    return ServerClient(
        "http://ci-server.test:8787/",
        TOKEN,
        retry_seconds=retry,
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=lambda: clock.now,
        rng=random.Random(7),
    )


def test_a_server_that_stays_down_is_retried_with_growing_jittered_delays_until_the_deadline() -> (
    None
):
    clock = Clock()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ServerUnavailableError) as caught:
        client_for(refuse, clock, retry=20).call("GET", "/runs")
    assert "did not answer GET /runs (tried for 20s)" in caught.value.message
    assert TOKEN not in str(caught.value)
    sleeps = clock.sleeps
    assert sum(sleeps) <= 20 and len(sleeps) >= 4
    for n, delay in enumerate(sleeps):
        step = min(MAX_DELAY, 0.25 * 2**n)
        assert step / 2 <= delay <= step, (n, delay)
    assert sleeps[3] > sleeps[0] * 3, "the delays grow"
    assert len(set(sleeps)) == len(sleeps), "jitter: no two waits alike"


def test_a_busy_server_is_asked_again_after_its_retry_after() -> None:
    clock = Clock()
    answers = [
        httpx.Response(503, headers={"Retry-After": "3"}),
        httpx.Response(200, json={"ok": True}),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return answers.pop(0)

    assert client_for(answer, clock).call("GET", "/runs") == {"ok": True}
    assert clock.sleeps == [3.0]


def test_a_refusal_is_not_retried_and_names_what_to_do() -> None:
    clock = Clock()
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        error = {"code": "auth", "message": "a valid API token is needed", "hint": "x"}
        return httpx.Response(401, json={"error": error})

    with pytest.raises(ServerError) as caught:
        client_for(refuse, clock).call("POST", "/uploads", body={"key": "k" * 16})
    assert len(calls) == 1 and not clock.sleeps
    assert not isinstance(caught.value, ServerUnavailableError)
    assert "refused POST /uploads (401): a valid API token is needed" in caught.value.message
    assert caught.value.hint is not None and "GREENLINE_TOKEN" in caught.value.hint
    assert TOKEN not in str(caught.value)


def test_a_report_that_may_have_arrived_is_not_sent_twice() -> None:
    clock = Clock()
    calls: list[httpx.Request] = []

    def time_out(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(ServerUnavailableError):
        client_for(time_out, clock).upload_junit(b"<testsuite/>", "abc", "main")
    assert len(calls) == 1, "a second POST /runs/junit could store the run twice"
    calls.clear()
    with pytest.raises(ServerUnavailableError):
        client_for(time_out, clock, retry=5).call("GET", "/runs")
    assert len(calls) > 1, "reads are retried"


def test_batches_go_compressed_and_each_block_once() -> None:
    clock = Clock()
    seen: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/uploads"):
            return httpx.Response(201, json={"run_id": 7})
        return httpx.Response(201, json={"duplicate": False})

    upload = RunUpload(client_for(accept, clock), key="k" * 32)
    assert upload.start(CommitInfo(sha="a" * 40, branch="main"), None) == 7
    results = [TestResult(f"t.py::test_{i}", Outcome.PASSED, 0.5) for i in range(40)]
    shared = Block("app.py", "<module>", "m")
    coverage = {r.test_id: [shared, Block("app.py", "f", "c")] for r in results}
    assert upload.send(results, coverage) is True
    batch = seen[-1]
    assert batch.url.path == f"/api/v1/uploads/{'k' * 32}/batches/1"
    assert batch.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(batch.content))
    assert body["blocks"] == [["app.py", "<module>", "m"], ["app.py", "f", "c"]]
    assert set(map(tuple, body["coverage"].values())) == {(0, 1)}
    assert upload.batches == 1 and upload.results == 40


def test_a_plan_read_back_from_the_server_is_the_plan() -> None:
    plan = SelectionPlan(
        baseline_run_id=3,
        base="b" * 40,
        selected=(
            SelectedTest("t.py::test_a", (Reason(ReasonKind.CHANGED_BLOCK, "app.f"),), 1.5, 0.25),
        ),
        unaffected=("t.py::test_b", "t.py::test_c"),
        suite_duration=9.0,
        new_test_files=("t_new.py",),
        over_budget=("t.py::test_d",),
    )
    doc = json.loads(json.dumps(views.selection_document(plan)))
    known = {"t.py::test_a", "t.py::test_b", "t.py::test_c", "t.py::test_d"}
    assert plan_of(doc, known) == plan
    assert views.selection_document(plan_of(doc, known)) == doc


def test_only_http_addresses_are_servers() -> None:
    with pytest.raises(UsageError) as caught:
        ServerClient("ftp://user:pw@host/", TOKEN)
    assert "pw" not in caught.value.message and "***" in caught.value.message
    assert batch_body([])["results"] == []
