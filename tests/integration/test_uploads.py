"""Uploads from CI over a real HTTP socket (uvicorn on loopback) into a real store (SQLite and
PostgreSQL): a run sent in batches is stored once however often a batch is sent, bad bodies
(over the limit, malformed, a gzip bomb) are refused with 4xx and store nothing, and many
uploaders at once lose and duplicate nothing."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from greenline.api import Greenline
from greenline.model import Block, CommitInfo, Environment, Outcome, RunStatus, TestResult
from greenline.remote import RunUpload, ServerClient, batch_body
from greenline.store import reads
from greenline.store.schema import (
    file_reads,
    results,
    runs,
    upload_batches,
)
from tests.conftest import git
from tests.servers import ProcessServer, make_token, thread_server

ENV = Environment("cpython-3.11.7", "linux-x86_64", "0123456789abcdef")


@pytest.fixture
def served(git_repo: Path, database_url: str) -> Iterator[tuple[str, Path, str]]:
    """(server URL, repository, store URL) of a server in a thread of this process."""
    with Greenline.open(git_repo, db=database_url):
        pass
    with thread_server(git_repo, database_url) as url:
        yield url, git_repo, database_url


def counts(repo: Path, db: str) -> dict[str, int]:
    """Rows stored; for coverage, the (run, test, block) each run's coverage reads back as
    (a run may share another's rows)."""
    with Greenline.open(repo, db=db) as gl, gl.store.read() as conn:
        out = {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
            for name, t in (
                ("runs", runs),
                ("results", results),
                ("file_reads", file_reads),
                ("upload_batches", upload_batches),
            )
        }
        out["coverage"] = sum(
            len(tc.blocks)
            for run_id in conn.execute(sa.select(runs.c.id)).scalars()
            for tc in reads.run_coverage(conn, run_id)
        )
        return out


def suite(n: int, prefix: str = "tests/test_app.py") -> list[TestResult]:
    return [
        TestResult(f"{prefix}::test_{i}", Outcome.PASSED if i % 7 else Outcome.FAILED, 0.01)
        for i in range(n)
    ]


def blocks_of(batch: list[TestResult]) -> dict[str, list[Block]]:
    return {
        r.test_id: [Block("app.py", "<module>", "m0"), Block("app.py", f"f{i % 5}", f"c{i % 5}")]
        for i, r in enumerate(batch)
    }


def head(repo: Path) -> CommitInfo:
    return CommitInfo(sha=git(repo, "rev-parse", "HEAD"), branch="main")


@pytest.mark.postgres
def test_a_resent_batch_is_acknowledged_and_stored_once(
    served: tuple[str, Path, str],
) -> None:
    url, repo, db = served
    token = make_token(repo, "write", db)
    auth = {"Authorization": f"Bearer {token}"}
    key = "k" * 32
    start = {"key": key, "commit": {"sha": git(repo, "rev-parse", "HEAD"), "branch": "main"}}
    made = httpx.post(f"{url}/api/v1/uploads", json=start, headers=auth)
    assert made.status_code == 201, made.text
    again = httpx.post(f"{url}/api/v1/uploads", json=start, headers=auth)
    assert again.status_code == 200 and again.json()["run_id"] == made.json()["run_id"]
    first = suite(3)
    body = batch_body(first, blocks_of(first), {first[0].test_id: ["data.json"]})
    batch = f"{url}/api/v1/uploads/{key}/batches/1"
    sent = httpx.post(batch, content=gzip.compress(_json(body)), headers=_gzip(auth))
    assert sent.status_code == 201 and sent.json()["duplicate"] is False, sent.text
    resent = httpx.post(batch, json=body, headers=auth)
    assert resent.status_code == 200 and resent.json()["duplicate"] is True
    finish = f"{url}/api/v1/uploads/{key}/finish"
    early = httpx.post(
        finish, json={"complete": True, "exit_status": 0, "batches": 2}, headers=auth
    )
    assert early.status_code == 409 and "1 of 2 batches" in early.json()["error"]["message"]
    second = suite(5)[3:]
    httpx.post(f"{url}/api/v1/uploads/{key}/batches/2", json=batch_body(second), headers=auth)
    state = httpx.get(f"{url}/api/v1/uploads/{key}", headers=auth).json()
    assert state["batches"] == [1, 2] and state["results"] == 5 and state["status"] == "running"
    done = httpx.post(finish, json={"complete": True, "exit_status": 1, "batches": 2}, headers=auth)
    assert done.status_code == 200 and done.json()["run"]["status"] == "complete"
    late = httpx.post(f"{url}/api/v1/uploads/{key}/batches/3", json=body, headers=auth)
    assert late.status_code == 409 and "finished" in late.json()["error"]["message"]
    assert httpx.post(finish, json={"complete": False}, headers=auth).json()["run"]["status"] == (
        "complete"
    ), "finishing again changes nothing"
    assert counts(repo, db) == {
        "runs": 1,
        "results": 5,
        "coverage": 6,
        "file_reads": 1,
        "upload_batches": 2,
    }
    with Greenline.open(repo, db=db) as gl, gl.store.read() as conn:
        run = gl.runs.get_run(made.json()["run_id"])
        assert run.has_coverage and run.counts == {"passed": 4, "failed": 1}
        assert run.commit.sha == start["commit"]["sha"] and run.commit.branch == "main"
        stored = {tc.test_id: tc.blocks for tc in reads.run_coverage(conn, run.id)}
    assert stored == {t: frozenset(b) for t, b in blocks_of(first).items()}


def test_the_upload_routes_are_in_the_schema_with_their_bodies(
    served: tuple[str, Path, str],
) -> None:
    url, _, _ = served
    paths = httpx.get(f"{url}/api/v1/openapi.json").json()["paths"]
    batch = paths["/api/v1/uploads/{key}/batches/{seq}"]["post"]
    fields = batch["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"results", "blocks", "coverage", "file_reads", "import_time"} <= set(fields)
    assert "outcome" in fields["results"]["items"]["properties"]
    assert {"/api/v1/uploads", "/api/v1/uploads/{key}/finish"} <= set(paths)


def _json(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()


def _gzip(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Encoding": "gzip", "Content-Type": "application/json"}


def test_bad_bodies_are_refused_and_nothing_is_stored(
    served: tuple[str, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenline.web.routes import uploads as routes

    url, repo, db = served
    auth = {"Authorization": f"Bearer {make_token(repo, 'write', db)}"}
    key = "bad-bodies-0123456789"
    assert httpx.post(f"{url}/api/v1/uploads", json={"key": key}, headers=auth).status_code == 201
    batch = f"{url}/api/v1/uploads/{key}/batches/1"
    good = _json(batch_body(suite(50)))

    malformed = httpx.post(
        batch, content=b'{"results": [', headers={**auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    error = malformed.json()["error"]
    assert set(error) == {"code", "message", "hint"} and "JSON" in error["message"]
    wrong = httpx.post(batch, json={"results": [{"test_id": "t", "outcome": "meh"}]}, headers=auth)
    assert wrong.status_code == 400 and "results.0.outcome" in wrong.json()["error"]["message"]
    pointer = {"results": [], "blocks": [], "coverage": {"t": [3]}}
    assert httpx.post(batch, json=pointer, headers=auth).status_code == 400
    cut = httpx.post(batch, content=gzip.compress(good)[:-20], headers=_gzip(auth))
    assert cut.status_code == 400 and "cut short" in cut.json()["error"]["message"]
    odd = httpx.post(batch, content=good, headers={**auth, "Content-Encoding": "br"})
    assert odd.status_code == 415

    bomb = _gzip_bomb(routes.MAX_JSON * 2)
    assert len(bomb) < routes.MAX_BODY
    exploded = httpx.post(batch, content=bomb, headers=_gzip(auth))
    assert exploded.status_code == 413, exploded.text
    assert "nothing was stored" in exploded.json()["error"]["message"]
    monkeypatch.setattr(routes, "MAX_BODY", 1000)
    big = httpx.post(batch, content=good, headers={**auth, "Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["hint"]

    read = {"Authorization": f"Bearer {make_token(repo, 'read', db)}"}
    assert httpx.post(batch, content=good, headers=read).status_code == 403
    assert httpx.post(batch, content=good).status_code == 401
    assert counts(repo, db) == {
        "runs": 1,
        "results": 0,
        "coverage": 0,
        "file_reads": 0,
        "upload_batches": 0,
    }, "the run was started; nothing of a refused batch was kept"
    monkeypatch.undo()
    ok = httpx.post(batch, content=good, headers={**auth, "Content-Type": "application/json"})
    assert ok.status_code == 201 and counts(repo, db)["results"] == 50


def _gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed, made a MiB at a time (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def test_a_silent_upload_is_shown_incomplete_until_its_client_is_back(
    served: tuple[str, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from greenline.api import uploads as service

    url, repo, db = served
    with ServerClient(url, make_token(repo, "write", db)) as client:
        # a process of this host that is gone: no local sweep may judge an upload by it
        silent = RunUpload(client)
        run_id = silent.start(head(repo), ENV, hostname=socket.gethostname(), pid=2**22 + 7)
        silent.send(suite(3))
        with Greenline.open(repo, db=db) as gl:
            assert gl.runs.list_runs()[0].status is RunStatus.RUNNING
        monkeypatch.setattr(service, "STALE_AFTER", timedelta(0))
        RunUpload(client).start(head(repo), ENV)  # the next upload's start notices
        with Greenline.open(repo, db=db) as gl:
            assert gl.runs.get_run(run_id).status is RunStatus.INCOMPLETE
        assert silent.send(suite(6)[3:]) is True, "its client is back: the batch is taken"
        silent.finish(0, complete=True)
    with Greenline.open(repo, db=db) as gl:
        run = gl.runs.get_run(run_id)
    assert run.status is RunStatus.COMPLETE and run.test_count == 6


UPLOADERS = 16
TESTS_PER_RUN = 2000
BATCH = 250


@pytest.mark.postgres
@pytest.mark.slow
def test_sixteen_uploaders_at_once_lose_and_duplicate_nothing(
    git_repo: Path, database_url: str
) -> None:
    server = ProcessServer(git_repo, database_url)
    token = make_token(git_repo, "write", database_url)
    server.start()
    errors: list[BaseException] = []
    run_ids: list[int] = []

    def upload(n: int) -> None:
        try:
            with ServerClient(server.url, token, retry_seconds=60) as client:
                job = RunUpload(client)
                run_ids.append(job.start(head(git_repo), ENV, hostname="ci", pid=n))
                tests = suite(TESTS_PER_RUN, f"tests/test_{n % 4}.py")
                for start in range(0, TESTS_PER_RUN, BATCH):
                    batch = tests[start : start + BATCH]
                    job.send(batch, blocks_of(batch))
                    if start == BATCH:  # an answer lost on the way: the batch is sent again
                        job.batches -= 1
                        assert job.send(batch, blocks_of(batch)) is False
                job.finish(1, complete=True)
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "uploads did not end in time"
    finally:
        server.stop()
    assert not errors, errors[0]
    total = UPLOADERS * TESTS_PER_RUN
    assert counts(git_repo, database_url) == {
        "runs": UPLOADERS,
        "results": total,
        "coverage": total * 2,
        "file_reads": 0,
        "upload_batches": UPLOADERS * TESTS_PER_RUN // BATCH,
    }
    with Greenline.open(git_repo, db=database_url) as gl:
        for run_id in run_ids:
            run = gl.runs.get_run(run_id)
            assert run.status is RunStatus.COMPLETE and run.test_count == TESTS_PER_RUN
            assert len({r.test_id for r in gl.runs.run_results(run_id)}) == TESTS_PER_RUN
