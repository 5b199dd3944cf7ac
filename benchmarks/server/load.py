"""The server benchmark's clients: uploader processes that send prepared runs as CI jobs do
(start, gzip-compressed batches, finish), and a closed loop of concurrent readers that times
every request."""

from __future__ import annotations

import asyncio
import gzip
import json
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def _packed(body: Any) -> bytes:
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=5)


def prepare_run(
    sha: str, tests: int, batch: int, blocks: list[list[str]], per_test: int, seed: int
) -> list[tuple[str, bytes]]:
    """One run's requests, (path, gzip body) in order: start, every batch, finish. With
    ``per_test`` > 0 each test's coverage names that many of ``blocks``."""
    key = uuid.uuid4().hex
    requests = [("/api/v1/uploads", _packed({"key": key, "commit": {"sha": sha}}))]
    seq = 0
    for first in range(0, tests, batch):
        seq += 1
        ids = [f"tests/test_mod_{i % 100:03d}.py::test_{i}" for i in range(first, first + batch)]
        body: dict[str, Any] = {
            "results": [
                {"test_id": t, "outcome": "passed", "duration": 0.01 + (i % 7) / 1000}
                for i, t in enumerate(ids)
            ]
        }
        if per_test:
            body["blocks"] = blocks
            body["coverage"] = {
                t: [(seed + i * 7 + k * 13) % len(blocks) for k in range(per_test)]
                for i, t in enumerate(ids)
            }
        requests.append((f"/api/v1/uploads/{key}/batches/{seq}", _packed(body)))
    finish = {"exit_status": 0, "complete": True, "batches": seq}
    requests.append((f"/api/v1/uploads/{key}/finish", _packed(finish)))
    return requests


def upload_worker(
    url: str,
    token: str,
    runs: list[dict[str, Any]],
    ready: Any,
    go: Any,
    done: Any,
) -> None:
    """A process: prepare its runs, wait for the start, send them one after the other."""
    from greenline.errors import GreenlineError
    from greenline.remote import ServerClient

    prepared = [prepare_run(**run) for run in runs]
    # greenline's own client: a busy store's 503 is tried again with backoff, as in CI
    with ServerClient(url, token, retry_seconds=300, timeout=300) as client:
        ready.set()
        go.wait()
        for requests in prepared:
            for path, body in requests:
                try:
                    client.call("POST", path.removeprefix("/api/v1"), content=body, headers=GZIP)
                except GreenlineError as exc:
                    done.put(("error", f"{path}: {exc.message}"))
                    return
        done.put(("ok", time.perf_counter()))


@dataclass
class Timing:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "max_ms": round(self.max_ms, 1),
        }


async def _hammer(
    url: str,
    token: str,
    method: str,
    path: str,
    body: Any,
    clients: int,
    seconds: float,
    max_requests: int,
) -> Timing:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=600, limits=limits
    ) as client:
        for _ in range(3):  # warm: connections, caches, the first plan
            await client.request(method, path, json=body)
        deadline = time.monotonic() + seconds

        async def reader() -> None:
            nonlocal errors
            while time.monotonic() < deadline and len(latencies) < max_requests:
                began = time.perf_counter()
                try:
                    answer = await client.request(method, path, json=body)
                    failed = answer.status_code != 200
                except httpx.TransportError:  # counted: the wait was real
                    failed = True
                latencies.append(time.perf_counter() - began)
                errors += failed

        began = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(clients)))
        spent = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return Timing(
        len(latencies), errors, spent, cuts[49] * 1000, cuts[98] * 1000, max(latencies) * 1000
    )


def read_latency(
    url: str,
    token: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    clients: int,
    seconds: float,
    max_requests: int,
) -> Timing:
    """``clients`` concurrent readers asking ``method path`` in a closed loop for ``seconds``
    (or ``max_requests`` answers): each request's time from sending to the whole answer."""
    return asyncio.run(_hammer(url, token, method, path, body, clients, seconds, max_requests))
