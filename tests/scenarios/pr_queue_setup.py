"""What the tests (and the benchmark) of the merge queue on pull requests share: a small Python
project with five pull requests (two good, one that breaks a test by itself, two that pass alone
and fail together), and a CI that runs the project's real tests with pytest on every queue
branch pushed to the code host, uploads the results to greenline's store as a CI job would, and
reports its verdict the way the host does (a ``workflow_run`` completed webhook, or a check
suite completed at the fake GitHub)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import GIT_ENV, git
from tests.fakegithub import FakeGitHub
from tests.fakegithub.events import check_run_event, check_suite_event, workflow_run_event
from tests.fakegithub.state import CheckRun, CheckSuite

SHOP = "def add(a, b):\n    return a + b\n"
TEST_SHOP = "from shop import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TEST_INVENTORY = (
    "from pathlib import Path\n\nITEMS = Path(__file__).parent.parent / 'inventory'\n\n\n"
    "def test_at_most_three_items():\n    assert len(list(ITEMS.glob('*.txt'))) <= 3\n"
)
CALC = "def sub(a, b):\n    return a - b\n"
TEST_CALC = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
#: branch -> (files it writes, title); in the order their pull requests are opened
PULLS: dict[str, tuple[dict[str, str], str]] = {
    "calc": ({"calc.py": CALC, "tests/test_calc.py": TEST_CALC}, "Add sub()"),
    "broken-add": ({"shop.py": SHOP.replace("a + b", "a - b")}, "Rework add()"),
    "item-c": ({"inventory/c.txt": "c\n"}, "Stock item c"),
    "guide": ({"docs/guide.md": "# Guide\n"}, "Write a guide"),
    "item-d": ({"inventory/d.txt": "d\n"}, "Stock item d"),
}
GOOD = ("calc", "item-c", "guide")
BROKEN_TEST = "tests/test_shop.py::test_add"
CONFLICT_TEST = "tests/test_inventory.py::test_at_most_three_items"
PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}


BASE = {
    "shop.py": SHOP,
    "tests/test_shop.py": TEST_SHOP,
    "tests/test_inventory.py": TEST_INVENTORY,
    "inventory/a.txt": "a\n",
    "inventory/b.txt": "b\n",
    ".gitignore": ".greenline/\n__pycache__/\n",
}


def make_project(
    path: Path,
    files: dict[str, str] | None = None,
    pulls: dict[str, tuple[dict[str, str], str]] | None = None,
) -> str:
    """The project on main, and a branch per pull request; main's sha."""
    _write(path, BASE if files is None else files)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "shop and inventory")
    for branch, (changes, title) in (PULLS if pulls is None else pulls).items():
        git(path, "checkout", "-q", "-b", branch, "main")
        _write(path, changes)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", title)
    git(path, "checkout", "-q", "main")
    return git(path, "rev-parse", "main")


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def run_pytest(tree: Path, junit: Path | None = None) -> int:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    if junit is not None:
        args.append(f"--junitxml={junit}")
    proc = subprocess.run(
        args, cwd=tree, capture_output=True, env={**os.environ, **PYTEST_ENV}, check=False
    )
    return proc.returncode


def report_ci_at_fake(
    github: FakeGitHub, repository: str, branch: str, sha: str, conclusion: str
) -> None:
    """GitHub Actions finished on ``sha`` pushed as ``branch``: its check run and suite
    completed at the fake GitHub, and the three webhooks of it (as the fake's ``report_ci``,
    with the branch the workflow ran for given, as GitHub gives it, rather than guessed from
    the commit: two queue branches may hold the same tree)."""
    repo = github.repository(repository)
    with github.state.lock:
        suite = CheckSuite(github.state.next_id(), sha, branch, "github-actions")
        repo.suites[suite.id] = suite
        run = CheckRun(
            github.state.next_id(),
            "test",
            sha,
            "github-actions",
            suite.id,
            status="completed",
            conclusion=conclusion,
        )
        repo.check_runs[run.id] = run
        sent = [
            ("check_run", check_run_event(github.state, repo, run, "completed")),
            ("check_suite", check_suite_event(github.state, repo, suite, "completed")),
            ("workflow_run", workflow_run_event(github.state, repo, suite, workflow="CI")),
        ]
    for event, payload in sent:
        github.send(event, payload)


@dataclass
class CI:
    """CI for the queue's branches: ``clone`` is its checkout of the host's repository."""

    url: str  # the host's git repository
    clone: Path
    upload: Callable[[Path, str, str], None]  # (junit file, sha, branch): the job's upload
    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    runs: list[tuple[str, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        subprocess.run(
            ["git", "clone", "-q", "--no-checkout", self.url, str(self.clone)],
            check=True,
            capture_output=True,
            env={**os.environ, **GIT_ENV},
        )

    def test(self, branch: str, sha: str) -> bool:
        """Check out ``sha`` (pushed as ``branch``), run the suite, upload its results."""
        git(self.clone, "fetch", "-q", "origin", f"+refs/heads/{branch}:refs/ci/{branch}")
        git(self.clone, "checkout", "-q", "--force", "--detach", sha)
        git(self.clone, "clean", "-q", "-fdx")
        junit = self.clone.parent / f"{self.clone.name}-{len(self.runs)}.xml"
        passed = run_pytest(self.clone, junit) == 0
        self.upload(junit, sha, branch)
        (self.passed if passed else self.failed).add(sha)
        self.runs.append((branch, sha, passed))
        return passed


def first_parents(root: Path, branch: str = "main") -> list[str]:
    return git(root, "rev-list", "--first-parent", "--reverse", branch).split()


def assert_green_at_every_commit(repo: Path, shas: list[str], work: Path) -> None:
    """The suite passes at each of ``shas`` (checked out one by one from ``repo``)."""
    tree = work / "green-check"
    if not tree.exists():
        git(repo.parent, "clone", "-q", "--no-checkout", str(repo), str(tree))
    git(tree, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    for sha in shas:
        git(tree, "checkout", "-q", "--force", "--detach", sha)
        git(tree, "clean", "-q", "-fdx")
        assert run_pytest(tree) == 0, f"main at {sha[:10]} fails its tests"
