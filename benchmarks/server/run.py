"""The team server under load, on this machine: upload throughput (results per second stored
through the API by concurrent CI uploaders) and the latency of the read endpoints (runs, tests,
flaky, select) at 10,000 tests and 1,000,000 stored results under 32 concurrent clients, on
SQLite and on PostgreSQL.

For each store: a synthetic project (a git repository of 100 modules of 20 functions) is made;
uploader processes send prepared runs (start, gzip-compressed batches of 2,000 results, finish)
to ``greenline serve`` and the wall time from the first request to the last answer is timed,
with results alone and with 5 blocks of coverage per test; the store's row counts are checked
afterwards (nothing lost, nothing twice). Then a history of 100 runs of 10,000 tests (1% of them
flaky, the newest run with coverage of the project's real functions) is written into a fresh
store, the server is started over it and 32 clients in a closed loop ask each read endpoint for
a while; select is asked with a diff that edits one function.

    python benchmarks/server/run.py                       # SQLite and PostgreSQL, full size
    python benchmarks/server/run.py --stores sqlite
    python benchmarks/server/run.py --smoke               # small sizes, SQLite (CI's check)

PostgreSQL: --pg-url, else GREENLINE_TEST_DATABASE_URL, else the local server's ``test``
database; each store is a fresh schema there, dropped afterwards.
Results: benchmarks/server/results/server.json (or server-smoke.json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
sys.path.insert(0, str(HERE))

from load import read_latency, upload_worker  # noqa: E402

from greenline import vcs  # noqa: E402
from greenline.api import Greenline  # noqa: E402
from greenline.model import Block, CommitInfo, Outcome, TestResult  # noqa: E402
from greenline.tracing import read_file_blocks  # noqa: E402

TARGETS = {"upload_results_per_s": 20_000, "read_p99_ms": 100.0}
MODULES, FUNCTIONS = 100, 20
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


@dataclass(frozen=True)
class Size:
    uploaders: int
    upload_runs: int  # per uploader
    upload_tests: int  # per run
    batch: int
    history_runs: int
    history_tests: int
    clients: int
    seconds: float  # per read endpoint
    max_requests: int


FULL = Size(4, 3, 10_000, 2_000, 100, 10_000, 32, 10.0, 20_000)
SMOKE = Size(2, 1, 2_000, 1_000, 5, 1_000, 8, 2.0, 500)


def log(message: str) -> None:
    print(f"[server bench] {message}", file=sys.stderr, flush=True)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )
    return done.stdout.decode().strip()


def make_project(folder: Path) -> tuple[Path, str]:
    """A git repository of MODULES modules of FUNCTIONS functions each; (its path, HEAD)."""
    shutil.rmtree(folder, ignore_errors=True)
    package = folder / "pkg"
    package.mkdir(parents=True)
    (folder / ".gitignore").write_text(".greenline/\n__pycache__/\n")
    (package / "__init__.py").write_text("")
    for m in range(MODULES):
        body = "".join(f"def f_{j}(x):\n    return x + {j}\n\n\n" for j in range(FUNCTIONS))
        (package / f"mod_{m:03d}.py").write_text(body)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "the project")
    return folder, git(folder, "rev-parse", "HEAD")


def project_blocks(repo: Path) -> list[list[Block]]:
    """Each module's function blocks, fingerprinted as recording does."""
    out = []
    for m in range(MODULES):
        path = f"pkg/mod_{m:03d}.py"
        blocks = read_file_blocks((repo / path).read_text(), path)
        out.append(list(blocks.blocks))
    return out


@contextmanager
def store_url(kind: str, folder: Path, pg_url: str) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        path = folder / "store" / f"greenline-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    schema = f"gl_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


class Server:
    """``python -m greenline.web`` over a store, on a free loopback port."""

    def __init__(self, repo: Path, db: str, workers: int) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "greenline.web", "--port", str(self.port)]
        argv += ["--repo", str(repo), "--db", db, "--workers", str(workers)]
        self.log = WORK / f"server-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300  # a loaded machine starts Python slowly
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"the server did not start over {db}:\n{tail}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: its process and its worker processes (on a
        shared machine, what the work cost, whatever else ran)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.proc.pid in (pid, ppid):
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def token_for(repo: Path, db: str, scope: str) -> str:
    with Greenline.open(repo, db=db) as gl:
        text, _ = gl.tokens.create(f"bench-{scope}-{uuid.uuid4().hex[:6]}", scope)
    return text


def count(repo: Path, db: str, table: str) -> int:
    with Greenline.open(repo, db=db) as gl, gl.store.read() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() or 0)


# -- uploads ------------------------------------------------------------------------------------
def measure_upload(
    repo: Path, sha: str, db: str, size: Size, per_test: int, workers: int
) -> dict[str, Any]:
    token = token_for(repo, db, "write")
    blocks = [[f"pkg/mod_{i // 20:03d}.py", f"f_{i % 20}", f"{i:016x}"] for i in range(2000)]
    server = Server(repo, db, workers)
    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(size.uploaders)]
    go, done = context.Event(), context.Queue()
    procs = []
    try:
        for n in range(size.uploaders):
            runs = [
                {
                    "sha": sha,
                    "tests": size.upload_tests,
                    "batch": size.batch,
                    "blocks": blocks,
                    "per_test": per_test,
                    "seed": n * 31 + r,
                }
                for r in range(size.upload_runs)
            ]
            proc = context.Process(
                target=upload_worker, args=(server.url, token, runs, ready[n], go, done)
            )
            proc.start()
            procs.append(proc)
        for event in ready:
            if not event.wait(timeout=600):
                raise SystemExit("an uploader did not get ready")
        load = machine_load()
        cpu = server.cpu_seconds()
        began = time.perf_counter()
        go.set()
        ends = []
        for _ in procs:
            kind, value = done.get(timeout=1800)
            if kind != "ok":
                raise SystemExit(f"an upload failed: {value}")
            ends.append(value)
        seconds = max(ends) - began
        cpu = server.cpu_seconds() - cpu
    finally:
        for proc in procs:
            proc.join(timeout=60)
        server.stop()
    sent = size.uploaders * size.upload_runs * size.upload_tests
    stored = count(repo, db, "results")
    if stored != sent:
        raise SystemExit(f"{sent} results sent, {stored} stored")
    covered = count(repo, db, "coverage")
    return {
        "results": sent,
        "coverage_rows": covered,
        "seconds": round(seconds, 3),
        "results_per_s": round(sent / seconds),
        "server_cpu_seconds": round(cpu, 2),
        "results_per_server_cpu_s": round(sent / cpu) if cpu else None,
        "stored_exactly_once": stored == sent,
        "load_before": load,
        "load_after": machine_load(),
    }


# -- reads --------------------------------------------------------------------------------------
def write_history(repo: Path, sha: str, db: str, size: Size, seed: int) -> dict[str, Any]:
    """size.history_runs runs of size.history_tests tests into the store, through the api;
    1% of the tests flaky (they fail now and then at the same commit), the newest run with
    coverage: each test ran its module's code and two of its functions."""
    rng = random.Random(seed)
    modules = project_blocks(repo)
    tests = [f"tests/test_mod_{i % MODULES:03d}.py::test_{i}" for i in range(size.history_tests)]
    flaky = set(rng.sample(tests, max(1, len(tests) // 100)))
    began, cpu = time.perf_counter(), time.process_time()
    start = datetime.now(UTC) - timedelta(days=size.history_runs)
    with Greenline.open(repo, db=db) as gl:
        commit = CommitInfo(sha=sha, branch="main")
        for r in range(size.history_runs):
            run_id = gl.runs.start_run("pytest", commit=commit, started_at=start + timedelta(r))
            results = [
                TestResult(
                    t,
                    Outcome.FAILED if t in flaky and rng.random() < 0.3 else Outcome.PASSED,
                    rng.uniform(0.001, 0.2),
                    path=t.split("::")[0],
                )
                for t in tests
            ]
            coverage = None
            if r == size.history_runs - 1:
                coverage = {}
                for i, t in enumerate(tests):
                    blocks = modules[i % MODULES]
                    coverage[t] = [
                        blocks[0],
                        blocks[1 + i % FUNCTIONS],
                        blocks[1 + (i * 7) % FUNCTIONS],
                    ]
            gl.runs.add_results(run_id, results, coverage)
            gl.runs.finish_run(run_id, 1, complete=True)
    return {
        "runs": size.history_runs,
        "tests": size.history_tests,
        "results": count(repo, db, "results"),
        "flaky_tests": len(flaky),
        "seconds_to_write": round(time.perf_counter() - began, 1),
        "cpu_seconds_to_write": round(time.process_time() - cpu, 1),
    }


def select_body(repo: Path, sha: str, module: int = 0) -> dict[str, Any]:
    """A change to one function of the project (in module ``module``), as the diff a CI job
    sends."""
    path = repo / "pkg" / f"mod_{module:03d}.py"
    original = path.read_text()
    path.write_text(original.replace("return x + 3\n", "return x + 3 + 0\n", 1))
    try:
        diff = vcs.read_diff(repo, sha).decode()
    finally:
        path.write_text(original)
    return {"base": sha, "diff": diff}


def machine_load() -> dict[str, Any]:
    """The load averages now and what ``uptime`` says (other sessions share the machine)."""
    one, five, fifteen = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2)} | {
        "uptime": uptime.strip()
    }


def client_cpu_seconds() -> float:
    """CPU time of this process (the asyncio readers run in it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_side(log: Path, offset: int, path: str) -> dict[str, Any]:
    """p50/p99 of the time the server spent on each ``path`` request logged after ``offset``
    (its access log's duration: from the request reaching the app to its last byte sent),
    which leaves out the time a request waited in the socket and in the client."""
    with log.open("rb") as lines:
        lines.seek(offset)
        tail = lines.read().decode(errors="replace").splitlines()
    spent = []
    for line in tail:
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("path") == path and entry.get("status") == 200:
            spent.append(float(entry["duration_ms"]))
    if len(spent) < 2:
        return {}
    cuts = statistics.quantiles(spent, n=100)
    return {"server_p50_ms": round(cuts[49], 1), "server_p99_ms": round(cuts[98], 1)}


def measure_reads(repo: Path, sha: str, db: str, size: Size, workers: int) -> dict[str, Any]:
    token = token_for(repo, db, "read")
    server = Server(repo, db, workers)
    try:
        schema = httpx.get(f"{server.url}/api/v1/openapi.json").json()
        endpoints: list[tuple[str, str, str, Any]] = [
            ("runs", "GET", "/api/v1/runs?limit=50", None),
            ("tests", "GET", "/api/v1/tests?limit=50", None),
            ("flaky", "GET", "/api/v1/flaky", None),
        ]
        if "/api/v1/select" in schema["paths"]:
            endpoints.append(("select", "POST", "/api/v1/select", select_body(repo, sha)))
            # a different change each request: the plan of a change the server has not seen
            # (64 functions edited, each by 64 different constants: 4,096 diffs, never one
            # twice in a phase, so neither the server's kept answers nor its plans help)
            edits = [select_body(repo, sha, m) for m in range(min(64, MODULES))]
            fresh = [
                {**body, "diff": body["diff"].replace("+ 3 + 0\n", f"+ 3 + {k}\n")}
                for k in range(64)
                for body in edits
            ]
            assert len({b["diff"] for b in fresh}) == len(fresh)
            endpoints.append(("select_new_change", "POST", "/api/v1/select", fresh))
        out: dict[str, Any] = {}
        for name, method, path, body in endpoints:
            log(f"  {name}: {size.clients} clients for up to {size.seconds:.0f}s")
            load = machine_load()
            offset = server.log.stat().st_size
            cpu, client_cpu = server.cpu_seconds(), client_cpu_seconds()
            timing = read_latency(
                server.url,
                token,
                method,
                path,
                body,
                clients=size.clients,
                seconds=size.seconds,
                max_requests=size.max_requests,
            )
            spent = server.cpu_seconds() - cpu
            client_spent = client_cpu_seconds() - client_cpu
            answered = max(timing.requests, 1)
            out[name] = (
                timing.as_json()
                | {
                    "server_cpu_ms_per_request": round(spent * 1000 / answered, 2),
                    "client_cpu_ms_per_request": round(client_spent * 1000 / answered, 2),
                }
                | server_side(server.log, offset, path.split("?")[0])
                | {"load_before": load, "load_after": machine_load()}
            )
        if "select" not in out:
            out["select"] = {"missing": "this server has no POST /api/v1/select"}
        return out
    finally:
        server.stop()


def measure_store(
    kind: str, size: Size, pg_url: str, workers: int, read_workers: int
) -> dict[str, Any]:
    folder = WORK / kind
    repo, sha = make_project(folder / "repo")
    result: dict[str, Any] = {"store": kind}
    for label, per_test in (("upload", 0), ("upload_with_coverage", 5)):
        with store_url(kind, folder, pg_url) as db:
            log(f"{kind}: {label}")
            result[label] = measure_upload(repo, sha, db, size, per_test, workers)
            log(f"  {result[label]['results_per_s']:,} results/s")
    with store_url(kind, folder, pg_url) as db:
        log(f"{kind}: writing the history")
        result["history"] = write_history(repo, sha, db, size, seed=17)
        log(f"{kind}: reads")
        result["reads"] = measure_reads(repo, sha, db, size, read_workers)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, quickly (CI)")
    parser.add_argument("--stores", default=None, help="sqlite,postgresql (default: both)")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--read-workers", type=int, default=None, help="server processes for the reads"
    )
    parser.add_argument("--output", default=None, help="results file (under results/)")
    args = parser.parse_args(argv)
    size = SMOKE if args.smoke else FULL
    stores = (args.stores or ("sqlite" if args.smoke else "sqlite,postgresql")).split(",")
    pg_url = (
        args.pg_url
        or os.environ.get("GREENLINE_TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    WORK.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "schema": "greenline.bench-server/1",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "size": size.__dict__,
        "server_workers": args.workers,
        "read_server_workers": args.read_workers or args.workers,
        "targets": TARGETS,
        "stores": [],
    }
    name = args.output or ("server-smoke.json" if args.smoke else "server.json")
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    kept = json.loads(out.read_text()).get("stores", []) if out.is_file() else []
    for kind in stores:  # written after each store: a long run keeps what it measured
        measured = measure_store(
            kind, size, pg_url, args.workers, args.read_workers or args.workers
        )
        kept = [s for s in kept if s["store"] != kind] + [measured]
        doc["stores"] = kept
        doc["met"] = met(doc)
        out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(doc))
    print(f"results: {out.relative_to(HERE.parent.parent)}")
    return 0


def met(doc: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for store in doc["stores"]:
        kind = store["store"]
        out[f"{kind}_upload"] = store["upload"]["results_per_s"] >= TARGETS["upload_results_per_s"]
        for name, timing in store["reads"].items():
            if "p99_ms" in timing:
                out[f"{kind}_{name}_p99"] = timing["p99_ms"] <= TARGETS["read_p99_ms"]
    return out


def table(doc: dict[str, Any]) -> str:
    lines = [
        "| store | upload (results/s; per server CPU-s) | with coverage | runs p50/p99 ms | "
        "tests p50/p99 ms | flaky p50/p99 ms | select p50/p99 ms | select, new change p50/p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for store in doc["stores"]:
        reads = store["reads"]

        def pair(name: str, reads: dict[str, Any] = reads) -> str:
            timing = reads.get(name, {})
            return f"{timing['p50_ms']} / {timing['p99_ms']}" if "p99_ms" in timing else "-"

        def rate(label: str, store: dict[str, Any] = store) -> str:
            up = store[label]
            return f"{up['results_per_s']:,}; {up['results_per_server_cpu_s'] or 0:,}"

        lines.append(
            f"| {store['store']} | {rate('upload')} | {rate('upload_with_coverage')} | "
            f"{pair('runs')} | {pair('tests')} | {pair('flaky')} | {pair('select')} | "
            f"{pair('select_new_change')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
