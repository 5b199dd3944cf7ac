"""Shared fixtures: real stores (SQLite, and PostgreSQL when configured) and real git repos."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

# PostgreSQL's driver, imported before any test: a test with pytester drops the modules first
# imported during it, and psycopg imported again gets new exception classes while its compiled
# part raises the first ones, which SQLAlchemy then no longer knows as the driver's errors
with contextlib.suppress(ImportError):  # without it the store tests skip their PostgreSQL half
    import psycopg  # noqa: F401

PG_ENV = "GREENLINE_TEST_DATABASE_URL"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

#: Every pytest these tests start (pytester's subprocess runs, greenline's own runs of a
#: project's suite) leaves hypothesis's plugin out: discovering it costs a second of imports
#: per process, hundreds of times a suite run, and no project these tests build uses it. The
#: tests that use hypothesis run in this process (and xdist's workers), which keep it.
_ADDOPTS = os.environ.get("PYTEST_ADDOPTS", "")
if "no:hypothesispytest" not in _ADDOPTS:
    os.environ["PYTEST_ADDOPTS"] = f"{_ADDOPTS} -p no:hypothesispytest".strip()


#: Where PYTHONDONTWRITEBYTECODE is set (as on these machines), no process keeps the bytecode
#: of what it compiles: every pytest a test starts would compile greenline's modules and
#: assertion-rewrite the installed plugins' and greenline's (pytest rewrites the packages of
#: its plugins) again, about 0.7 s a process, hundreds of times a run. They are written once,
#: before any test, and every later process reads them. A test's own project is left alone:
#: a file rewritten within a second at the same size could be read from a stale cache.
_WARM_CONFTEST = """\
import importlib
import pkgutil

import greenline

for module in pkgutil.walk_packages(greenline.__path__, "greenline."):
    if module.name.endswith("__main__"):
        continue  # a command: importing it runs it
    try:
        importlib.import_module(module.name)
    except Exception:  # an optional extra that is not installed
        pass
"""


def warm_bytecode_caches() -> None:
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return  # every process keeps its caches itself
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    source = Path(__file__).resolve().parents[1] / "src" / "greenline"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(source)],
        env=env,
        check=False,
        capture_output=True,
    )
    with tempfile.TemporaryDirectory(prefix="greenline-warm-") as folder:
        Path(folder, "pytest.ini").write_text("[pytest]\n")
        Path(folder, "conftest.py").write_text(_WARM_CONFTEST)
        # the installed plugins discovered, greenline among them (it is the same cache with
        # discovery off and ``-p greenline``)
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "--co", "-p", "no:cacheprovider", folder],
            cwd=folder,
            env=env,
            capture_output=True,
            check=False,
        )


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # once, in the process xdist's workers start from
        warm_bytecode_caches()


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip()


def init_repo(path: Path, branch: str = "main") -> str:
    """Make ``path`` a git repository with everything in it committed; returns HEAD's sha."""
    git(path, "init", "-q", "-b", branch)
    # what pytester writes next to a project (its runs' output and temp dirs) is no project file
    exclude = path / ".git" / "info" / "exclude"
    exclude.write_text("__pycache__/\nrunpytest-*\n/stdout\n/stderr\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", "initial commit")
    return git(path, "rev-parse", "HEAD")


#: The projects the flaky tests scan need no third-party pytest plugin, and discovering the
#: ones installed here (hypothesis alone takes a second to import) would cost every one of a
#: scan's hundreds of pytest runs about two seconds. greenline names its own plugin with ``-p``,
#: so its runs work without discovery; these tests check that too.
NO_PLUGIN_AUTOLOAD = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


@pytest.fixture
def without_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in NO_PLUGIN_AUTOLOAD.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("a repository for tests\n")
    init_repo(repo)
    return repo


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run the store tests on it")
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"gl_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL: each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'greenline.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


#: The modules whose tests take a minute or more between them (the flaky fixes' verification
#: runs, the demo, the ranking's learning, the git merge queue's kill and resume): run first.
#: ``make test`` runs xdist's work-stealing schedule, which hands each worker half the tests
#: and lets one that is done take the other's last ones: with the long tests first, the
#: workers end together instead of one idling through the other's last long test.
SLOW_FIRST = (
    "tests/plugin/test_flaky_object_fixes.py",
    "tests/plugin/test_flaky_more_fixes.py",
    "tests/plugin/test_flaky_state_fixes.py",
    "tests/plugin/test_flaky_fixers.py",
    "tests/scenarios/test_demo.py",
    "tests/plugin/test_learning.py",
    "tests/plugin/test_flaky_fix.py",
    "tests/scenarios/test_queue_git.py",
    "tests/plugin/test_recording_hardening.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
