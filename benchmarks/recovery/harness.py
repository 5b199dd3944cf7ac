"""What every generated repository of the recovery benchmark shares: the root ``conftest.py``
that puts the checkout's own code first on ``sys.path`` and makes named tests flaky at a known
rate, and the pytest and git commands the benchmark runs on those repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: committed at the root of every generated repository (the probes run in worktrees: each
#: checkout must import its own code, not an installed copy)
CONFTEST = '''"""Recovery benchmark harness: this checkout's code first on sys.path; the tests
named in recovery_flakes.json fail at their rate (a fresh random source: reruns differ)."""

import json
import os
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
for _sub in ("", "src", "lib"):
    if (ROOT / _sub).is_dir():
        sys.path.insert(0, str(ROOT / _sub))
_FLAKES = ROOT / "recovery_flakes.json"
FLAKES = json.loads(_FLAKES.read_text()) if _FLAKES.exists() else {}
_RANDOM = random.SystemRandom()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # a test that fails by itself keeps its own failure
    rate = FLAKES.get(item.nodeid)
    if rate and not os.environ.get("RECOVERY_NO_FLAKE"):
        if os.environ.get("RECOVERY_FORCE_FLAKE") or _RANDOM.random() < rate:
            raise AssertionError(f"seeded flake: fails {rate:.0%} of runs")
    return result
'''
FLAKES_FILE = "recovery_flakes.json"
GITIGNORE = ".greenline/\n__pycache__/\n.pytest_cache/\n*.egg-info/\n*.pyc\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def bench_env(**extra: str) -> dict[str, str]:
    """The environment of every process the benchmark starts: no user or CI settings of
    greenline or pytest leak in, plugin autoloading is off (greenline is named with -p)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENLINE_", "PYTEST_"))}
    env.update(GIT_ENV, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("RECOVERY_NO_FLAKE", None)
    env.pop("RECOVERY_FORCE_FLAKE", None)
    env.update(extra)
    return env


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=bench_env(), capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def run_pytest(
    tree: Path, tests: tuple[str, ...] = (), timeout: float = 600, **env: str
) -> dict[str, str] | None:
    """Outcome per test id of one quiet pytest run in ``tree`` (None when it timed out)."""
    with tempfile.TemporaryDirectory() as out:
        rows = Path(out) / "outcomes.jsonl"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "greenline"]
        argv += [f"--greenline-outcomes={rows}", *tests]
        try:
            subprocess.run(
                argv, cwd=tree, env=bench_env(**env), capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return None
        if not rows.exists():
            return {}
        lines = rows.read_text(encoding="utf-8").splitlines()
    return {r["test_id"]: r["outcome"] for r in map(json.loads, lines)}


def record_run(repo: Path, **env: str) -> None:
    """One full-suite run recorded into the repository's greenline store."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "greenline"]
    subprocess.run(
        [*argv, "--greenline-record"],
        cwd=repo,
        env=bench_env(**env),
        capture_output=True,
        timeout=600,
    )


def failed(outcomes: dict[str, str]) -> set[str]:
    return {t for t, o in outcomes.items() if o in ("failed", "error")}


def passed(outcomes: dict[str, str]) -> set[str]:
    return {t for t, o in outcomes.items() if o == "passed"}
