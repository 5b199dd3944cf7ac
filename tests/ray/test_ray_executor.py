"""The Ray executor on a real local cluster (a head and a second node): a sharded run ships
the work tree, runs its shards on the workers and stores every result once; a worker killed
in the middle of a shard is recovered by running the shard again; a flaky scan on Ray reaches
the verdicts a local one does."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from greenline.api import Greenline
from tests.conftest import init_repo
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.ray

SUITE = {
    "test_a.py": """
import os, time

def test_runs_in_a_shipped_tree():
    assert "working_dir_files" in os.getcwd(), os.getcwd()

{more}
""",
    "test_b.py": "import time\n\n{more}\n",
    "test_c.py": "import time\n\n{more}\n",
}
DIES_ONCE = """
import os, pathlib, signal, time

def test_kills_its_worker_the_first_time():
    marker = pathlib.Path(os.environ["GREENLINE_TEST_SCRATCH"], "{name}")
    if not marker.exists():
        marker.write_text("the worker was killed once")
        os.kill(os.getppid(), signal.SIGKILL)  # the Ray worker that runs this shard's pytest
        time.sleep(60)
"""


def make_project(root: Path, extra: dict[str, str] | None = None) -> Path:
    root.mkdir()
    for name, text in SUITE.items():
        more = "\n".join(f"def test_{i}():\n    time.sleep(0.05)\n" for i in range(4))
        (root / name).write_text(text.format(more=more))
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    init_repo(root)
    return root


def stored_results(root: Path, run_id: int) -> Counter[str]:
    with Greenline.open(root, create=False) as gl:
        return Counter(r.test_id for r in gl.runs.run_results(run_id))


def run_on_ray(cluster: RayCluster, root: Path, shards: int) -> dict[str, object]:
    done = cluster.greenline(
        root, "run", "--shards", str(shards), "--executor", "ray", "-f", "json"
    )
    assert done.returncode == 0, done.stderr + done.stdout
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def test_a_sharded_run_on_ray_stores_every_result_once(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "project")
    doc = run_on_ray(ray_cluster, root, 3)
    run = doc["run"]
    assert isinstance(run, dict) and run["status"] == "complete" and run["source"] == "shards"
    counts = stored_results(root, int(run["id"]))
    assert len(counts) == 13 and set(counts.values()) == {1}
    shards = doc["shards"]
    assert isinstance(shards, list) and [s["attempts"] for s in shards] == [1, 1, 1]
    assert sum(s["results"] for s in shards) == 13


def test_a_worker_killed_mid_shard_is_recovered(ray_cluster: RayCluster, tmp_path: Path) -> None:
    marker = f"killed-{tmp_path.name}"
    root = make_project(tmp_path / "project", {"test_dies.py": DIES_ONCE.format(name=marker)})
    doc = run_on_ray(ray_cluster, root, 2)
    assert (ray_cluster.scratch / marker).exists(), "the worker was killed once"
    shards = doc["shards"]
    assert isinstance(shards, list)
    assert sorted(s["attempts"] for s in shards) == [1, 2]
    assert all(s["status"] == "done" for s in shards)
    run = doc["run"]
    assert isinstance(run, dict) and run["status"] == "complete"
    counts = stored_results(root, int(run["id"]))
    assert len(counts) == 14 and set(counts.values()) == {1}, "nothing is stored twice"


FLAKY_SUITE = {
    "settings.py": "MODE = 'default'\n",
    "test_one.py": """
import settings

def test_reads_the_default():
    assert settings.MODE == "default"

def test_steady():
    assert sum([1, 2]) == 3
""",
    "test_two.py": """
import settings

def test_switches_mode():
    settings.MODE = "fast"

def test_broken():
    assert 1 + 1 == 3
""",
}


def test_a_flaky_scan_on_ray_reaches_the_local_verdicts(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    root = tmp_path / "flaky"
    root.mkdir()
    for name, text in FLAKY_SUITE.items():
        (root / name).write_text(text)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    init_repo(root)
    verdicts = {}
    for executor in ("local", "ray"):
        args = ("--runs", "4", "--workers", "2", "-f", "json", "--executor", executor)
        scan = ray_cluster.greenline(root, "flaky", "scan", *args)
        assert scan.returncode == 0, scan.stderr
        doc = json.loads(scan.stdout)
        verdicts[executor] = {t["test_id"]: t["verdict"] for t in doc["tests"]}
    assert verdicts["ray"] == verdicts["local"]
    assert verdicts["ray"]["test_one.py::test_reads_the_default"] == "flaky"
    assert verdicts["ray"]["test_two.py::test_broken"] == "failing"
