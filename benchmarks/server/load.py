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


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads whole
    answers: a reader that costs the shared machine little CPU (an httpx client spends about
    as much per request as the server does), so the clients' time is mostly the server's."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def ask(self, request: bytes) -> int:
        """Send ``request``, read the whole answer; its status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(request)
            status = int((await self.reader.readuntil(b"\r\n")).split()[1])
            length, chunked = 0, False
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
            if chunked:
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await self.reader.readexactly(size + 2)
                await self.reader.readuntil(b"\r\n")
            else:
                await self.reader.readexactly(length)
            return status
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _requests(url: str, token: str, method: str, path: str, body: Any) -> list[bytes]:
    """Each request as the bytes sent (a list of bodies: one request per body, sent in turn)."""
    address = httpx.URL(url)
    bodies = body if isinstance(body, list) else [body]
    out = []
    for one in bodies:
        data = b"" if one is None else json.dumps(one).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
        )
        if one is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        out.append(head.encode() + b"\r\n" + data)
    return out


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
    address = httpx.URL(url)
    requests = _requests(url, token, method, path, body)
    sent = 0
    latencies: list[float] = []
    errors = 0

    def next_request() -> bytes:
        nonlocal sent
        sent += 1
        return requests[sent % len(requests)]

    connections = [_Connection(address.host, address.port or 80) for _ in range(clients)]
    for connection in connections[:3]:  # warm: caches, the first plan
        await connection.ask(next_request())
    deadline = time.monotonic() + seconds

    async def reader(connection: _Connection) -> None:
        nonlocal errors
        while time.monotonic() < deadline and len(latencies) < max_requests:
            began = time.perf_counter()
            try:
                failed = await asyncio.wait_for(connection.ask(next_request()), 600) != 200
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                failed = True  # counted: the wait was real
            latencies.append(time.perf_counter() - began)
            errors += failed

    began = time.perf_counter()
    try:
        await asyncio.gather(*(reader(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
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
    (or ``max_requests`` answers): each request's time from sending to the whole answer.
    ``body``: the JSON sent, or a list of them sent in turn."""
    return asyncio.run(_hammer(url, token, method, path, body, clients, seconds, max_requests))
