"""The work that runs in git worktrees of its own, on a real Ray cluster: a merge queue's checks
and a culprit search's probes each ship the tree they test (kept under ``.greenline/``, which
the work tree's package never holds), so the queue lands and ejects, and the search names the
commit, as they do on local processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, init_repo
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.ray

ON_RAY = {"GREENLINE_EXECUTOR": "ray"}


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_queue_checks_on_ray_test_each_branch_s_own_tree(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "check.sh").write_text("test ! -e BROKEN\n")
    (repo / ".gitignore").write_text(".greenline/\n")
    init_repo(repo)
    for branch, name in (("good", "docs/one.txt"), ("bad", "BROKEN")):
        git(repo, "checkout", "-q", "-b", branch, "main")
        commit(repo, branch, {name: branch})
        git(repo, "checkout", "-q", "main")
        added = ray_cluster.greenline(repo, "queue", "add", branch)
        assert added.returncode == 0, added.stderr
    run = ray_cluster.greenline(
        repo, "queue", "run", "--check", "sh check.sh", "-f", "json", env=ON_RAY
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert json.loads(run.stdout) == {"schema": "greenline.queue-run/1", "landed": 1, "ejected": 1}
    files = set(git(repo, "ls-files").split())
    assert "docs/one.txt" in files and "BROKEN" not in files, "the bad branch's tree was tested"
    assert git(repo, "worktree", "list").count("\n") == 0, "no check worktree is left"


CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)


def test_culprit_probes_on_ray_name_the_commit_a_local_search_names(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TESTS)
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (repo / ".gitignore").write_text(".greenline/\n__pycache__/\n")
    init_repo(repo)
    good = git(repo, "rev-parse", "HEAD")
    commit(repo, "docs", {"README.md": "calc\n"})
    culprit = commit(repo, "faster mul", {"calc.py": CALC.replace("a * b", "a * b + 1")})
    commit(repo, "more docs", {"README.md": "calc, more\n"})
    found = {}
    for executor in ("local", "ray"):
        result = ray_cluster.greenline(
            repo, "culprit", "--good", good, "-f", "json", "test_calc.py::test_mul",
            env={"GREENLINE_EXECUTOR": executor},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr + result.stdout
        doc = json.loads(result.stdout)
        found[executor] = (doc["status"], doc["culprit"]["sha"], doc["confirmed"])
    assert found["ray"] == found["local"] == ("found", culprit, True)
    assert git(repo, "worktree", "list").count("\n") == 0, "no probe worktree is left"
