"""A real Ray cluster on this machine: a head and a second node, started and stopped here
(``ray start --block``, one CPU each), in a network namespace of their own so that nothing Ray
does can reach beyond this machine's loopback. The Ray tests use it (``conftest``), and so does
the flaky scan's fan-out benchmark (``benchmarks/split/ray_scan.py``).

Not available, with the reason said, where Ray is not importable or a namespace cannot be made
(that needs root and iproute2's ``ip``)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
PORT = 6379
#: Ray's own reporting stays off and, were it tried, would go to a closed loopback port
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
    "PYTHONDONTWRITEBYTECODE": "1",
}
START_SECONDS = 180.0


@dataclass
class RayCluster:
    namespace: str
    address: str
    scratch: Path
    #: the environment's commands (ray, greenline): this interpreter's unless told
    bin: Path = BIN

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the cluster's network namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def greenline(
        self, cwd: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **RAY_ENV, "GREENLINE_RAY_ADDRESS": self.address, **(env or {})}
        env.pop("GREENLINE_DATABASE_URL", None)
        return subprocess.run(
            self.command(str(self.bin / "greenline"), *args),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def why_not(bin: Path = BIN) -> str | None:
    """Why a cluster cannot be started here (from the commands in ``bin``), or None."""
    if bin == BIN and importlib.util.find_spec("ray") is None:
        return "ray is not importable here: pip install 'greenline[ray]' to run the Ray tests"
    if not (bin / "ray").exists():
        return f"no ray command in {bin}"
    if shutil.which("ip") is None or os.geteuid() != 0:
        return "the Ray tests run the cluster in a network namespace: they need root and `ip`"
    return None


def _start(cluster: RayCluster, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    argv = cluster.command(str(cluster.bin / "ray"), "start", "--block", *args)
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            env={**os.environ, **RAY_ENV, "GREENLINE_TEST_SCRATCH": str(cluster.scratch)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _alive_nodes(cluster: RayCluster) -> int:
    status = subprocess.run(
        cluster.command(str(cluster.bin / "ray"), "status", "--address", cluster.address),
        capture_output=True,
        text=True,
        env={**os.environ, **RAY_ENV},
        check=False,
        timeout=60,
    )
    if status.returncode != 0:
        return 0
    active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


def _wait_for(cluster: RayCluster, nodes: int, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while _alive_nodes(cluster) < nodes:
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            logs = "\n".join(p.read_text()[-1500:] for p in cluster.scratch.glob("*.log"))
            raise RuntimeError(f"the local Ray cluster did not come up:\n{logs}")
        time.sleep(1.0)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """``ray start --block`` stops what it started on SIGTERM; its group is killed after."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class ClusterUnavailableError(RuntimeError):
    """No cluster can be made here; the message says why."""


@contextlib.contextmanager
def local_cluster(bin: Path = BIN) -> Iterator[RayCluster]:
    """A head and a second node, one CPU each, in a network namespace of their own, started
    with the ``ray`` command in ``bin``; stopped and its namespace deleted on the way out."""
    why = why_not(bin)
    if why is not None:
        raise ClusterUnavailableError(why)
    namespace = f"greenline-ray-{os.getpid()}"
    scratch = Path(tempfile.mkdtemp(prefix="glray", dir="/tmp"))  # Ray's sockets: short paths
    made = subprocess.run(["ip", "netns", "add", namespace], capture_output=True, check=False)
    if made.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        why = made.stderr.decode().strip()
        raise ClusterUnavailableError(f"cannot make a network namespace: {why}")
    cluster = RayCluster(namespace, f"127.0.0.1:{PORT}", scratch, bin)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(cluster.command("ip", "link", "set", "lo", "up"), check=True)
        common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
        common += ["--temp-dir", str(scratch / "ray")]
        head = ["--head", "--port", str(PORT), "--include-dashboard", "false", *common]
        procs.append(_start(cluster, head, scratch / "head.log"))
        _wait_for(cluster, 1, procs)
        procs.append(_start(cluster, ["--address", cluster.address, *common], scratch / "node.log"))
        _wait_for(cluster, 2, procs)
        yield cluster
    finally:
        for proc in reversed(procs):
            _stop(proc)
        subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
