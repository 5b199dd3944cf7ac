"""The merge queue on a real git repository with a real check command: good branches land, a
breaking one and one of a pair that conflicts only when combined are ejected with reasons, main
passes its check at every commit, and a ``kill -9`` of the runner loses nothing and lands
nothing untested."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git, init_repo

#: main holds two items; more than three fail the check, so c1 and c2 pass alone, not together
CHECK = "test ! -e BROKEN && test $(ls items | wc -l) -le 3 && sleep {pause}"
BRANCHES = {
    "good1": ("docs/one.txt", "one"),
    "good2": ("docs/two.txt", "two"),
    "bad": ("BROKEN", "oops"),
    "c1": ("items/c", "c"),
    "c2": ("items/d", "d"),
}


def make_repo(root: Path, pause: float) -> Path:
    repo = root / "repo"
    (repo / "items").mkdir(parents=True)
    (repo / "docs").mkdir()
    for name in ("items/a", "items/b", "docs/README"):
        (repo / name).write_text(name)
    (repo / "check.sh").write_text(CHECK.format(pause=pause) + "\n")
    (repo / ".gitignore").write_text(".greenline/\n")
    init_repo(repo)
    for branch, (path, text) in BRANCHES.items():
        git(repo, "checkout", "-q", "-b", branch, "main")
        (repo / path).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", branch)
    git(repo, "checkout", "-q", "main")
    return repo


def greenline(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenline", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def queue_everything(repo: Path) -> None:
    for branch in BRANCHES:
        added = greenline(repo, "queue", "add", branch)
        assert added.returncode == 0, added.stderr


def assert_main_always_green(repo: Path, tested: set[str]) -> list[str]:
    """Every commit on main passes the check, and every commit main was ever moved to (its
    reflog) is the first one or one the queue tested; returns main's history, oldest first."""
    history = git(repo, "rev-list", "--first-parent", "--reverse", "main").split()
    for sha in history:
        tree = repo.parent / f"at-{sha[:8]}"
        git(repo, "worktree", "add", "-q", "--detach", str(tree), sha)
        check = subprocess.run(["sh", "check.sh"], cwd=tree, check=False, env={**os.environ})
        git(repo, "worktree", "remove", "--force", str(tree))
        assert check.returncode == 0, f"main at {sha[:10]} fails its check"
    tips = set(git(repo, "reflog", "show", "--format=%H", "refs/heads/main").split())
    assert tips - tested == {history[0]}, "main only ever moved to tested commits"
    return history


def decisions(repo: Path) -> tuple[dict[str, str], dict[str, str], set[str]]:
    status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
    assert status["entries"] == [], "nothing left waiting"
    landed, ejected, tested = {}, {}, set()
    for item in status["journal"]:
        for change in item["changes"]:
            if item["kind"] == "landed":
                landed[change] = item["reason"]
            elif item["kind"] == "ejected":
                ejected[change] = item["reason"]
        if item["kind"] == "landed":
            tested.add(item["commit"])
    return landed, ejected, tested


def test_good_branches_land_and_breaking_ones_are_ejected_with_reasons(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, pause=0.2)
    queue_everything(repo)
    status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
    assert [e["branch"] for e in status["entries"]] == list(BRANCHES)
    run = greenline(repo, "queue", "run", "--check", "sh check.sh", "--runners", "2", "-f", "json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"schema": "greenline.queue-run/1", "landed": 3, "ejected": 2}
    landed, ejected, tested = decisions(repo)
    assert {"good1", "good2"} <= set(landed) and len({"c1", "c2"} & set(landed)) == 1
    assert ejected["bad"].startswith("fails alone on main")
    loser = ({"c1", "c2"} - set(landed)).pop()
    assert "it passed alone, so it conflicts with what lands before it" in ejected[loser]
    history = assert_main_always_green(repo, tested)
    assert len(history) == 4  # the first commit and one merge per landed branch
    files = set(git(repo, "ls-files").split())
    assert {"docs/one.txt", "docs/two.txt"} <= files and "BROKEN" not in files
    again = greenline(repo, "queue", "remove", "bad")
    assert again.returncode == 4 and "bad is not queued" in again.stderr


def test_a_killed_runner_resumes_and_lands_nothing_untested(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, pause=4)  # long enough to outlast a loaded machine
    queue_everything(repo)
    runner = subprocess.Popen(
        [sys.executable, "-m", "greenline", "queue", "run", "--check", "sh check.sh"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:  # kill it once the first landing is done, mid-queue
        status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
        if any(item["kind"] == "landed" for item in status["journal"]):
            break
        time.sleep(0.2)
    status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
    assert status["runner"]["pid"] == runner.pid
    second = greenline(repo, "queue", "run", "--check", "sh check.sh")
    assert second.returncode == 4 and "the queue is already running" in second.stderr
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
    assert status["entries"], "the kill came before the queue was done"
    assert status["runner"] is None, "a dead runner is not reported as working"
    resumed = greenline(repo, "queue", "run", "--check", "sh check.sh", "-f", "json")
    assert resumed.returncode == 0, resumed.stderr
    landed, ejected, tested = decisions(repo)
    assert set(landed) | set(ejected) == set(BRANCHES), "no branch lost"
    assert not set(landed) & set(ejected)
    assert {"good1", "good2"} <= set(landed) and "bad" in ejected
    assert_main_always_green(repo, tested)


def test_a_landing_that_finds_main_moved_requeues_its_branches(tmp_path: Path) -> None:
    from greenline.api import Greenline
    from greenline.mergequeue.codec import dump_entry
    from greenline.model.queue import QueueEntry

    repo = make_repo(tmp_path, pause=0)
    old = git(repo, "rev-parse", "main")
    head = git(repo, "rev-parse", "good1")
    with Greenline.open(repo) as gl:
        gl.queue.add("good2")
        # a landing written down but not done when the process died ...
        entry = dump_entry(QueueEntry("good1", head, 0.0, 0, frozenset({"docs/one.txt"})))

        def crashed(doc):  # type: ignore[no-untyped-def]
            doc.pending.append({"run_id": "r9", "sha": head, "old": old, "entries": [entry]})

        gl.queue.docs.change(crashed)
        # ... and meanwhile someone pushed to main
        (repo / "docs" / "hotfix.txt").write_text("fix\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "hotfix")
        gl.queue.finish_landings()
        status = gl.queue.status()
    assert status["main"] == git(repo, "rev-parse", "main")
    assert [(e["branch"], e["stage"]) for e in status["entries"]] == [
        ("good2", "precheck"),
        ("good1", "precheck"),
    ]
    kinds = [(i["kind"], i["changes"]) for i in status["journal"]]
    assert kinds[-2:] == [("main-moved", []), ("requeued", ["good1"])]


def test_a_pytest_check_names_the_failed_tests_in_the_ejection(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    )
    (repo / ".gitignore").write_text(".greenline/\n__pycache__/\n")
    init_repo(repo)
    git(repo, "checkout", "-q", "-b", "off-by-one", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b + 1\n")
    git(repo, "commit", "-q", "-am", "off by one")
    git(repo, "checkout", "-q", "main")
    assert greenline(repo, "queue", "add", "off-by-one").returncode == 0
    check = f"{sys.executable} -m pytest -q -p no:cacheprovider --junitxml=$GREENLINE_QUEUE_JUNIT"
    run = greenline(repo, "queue", "run", "--check", check)
    assert run.returncode == 0, run.stderr
    landed, ejected, _ = decisions(repo)
    assert not landed
    assert ejected["off-by-one"] == (
        "fails alone on main ("
        + git(repo, "rev-parse", "main")[:10]
        + "): tests/test_calc.py::test_add, tests/test_calc.py::test_zero"  # mapped to node ids
    )


def test_a_runner_after_a_killed_one_stops_its_orphaned_checks_and_stale_worktrees(
    tmp_path: Path,
) -> None:
    from greenline.api import Greenline
    from greenline.executor import is_process_alive

    repo = make_repo(tmp_path, pause=0)
    queue_everything(repo)
    pids = tmp_path / "check-pids"
    slow = f"echo $$ >> {pids}; sleep 120"
    runner = subprocess.Popen(
        [sys.executable, "-m", "greenline", "queue", "run", "--check", slow],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:  # both checks started, and the queue knows their processes
        with Greenline.open(repo) as gl:
            _, doc = gl.queue.docs.read()
        if doc is not None and len(doc.checks) == 2 and len(_lines(pids)) == 2:
            break
        time.sleep(0.1)
    os.kill(runner.pid, signal.SIGKILL)  # the runner alone: its checks live on
    runner.wait()
    orphans = [int(pid) for pid in _lines(pids)]
    assert len(orphans) == 2 and all(is_process_alive(p) for p in orphans)
    trees = repo / ".greenline" / "queue" / "trees"
    assert len(list(trees.iterdir())) == 2

    resumed = greenline(repo, "queue", "run", "--check", "sh check.sh")
    assert resumed.returncode == 0, resumed.stderr
    assert not any(is_process_alive(p) for p in orphans), "orphaned checks are stopped"
    assert list(trees.iterdir()) == [], "no worktree is left behind"
    assert git(repo, "worktree", "list").count("\n") == 0, "git knows no stale worktree"
    status = json.loads(greenline(repo, "queue", "status", "-f", "json").stdout)
    cleaned = [item["reason"] for item in status["journal"] if item["kind"] == "cleaned"]
    assert cleaned == [
        "2 orphaned check(s) stopped; 2 stale worktree(s) removed (left by a runner that died)"
    ]


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
