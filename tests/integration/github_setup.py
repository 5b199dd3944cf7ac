"""What the GitHub tests share: a local project pushed to the fake GitHub's bare repository,
a clone of it (the team server's checkout, whose origin is that remote), and clients of the
fake authorized by a token or as the GitHub App."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from greenline.forge.github_api import GitHubApi
from greenline.forge.github_auth import AppCredentials, TokenCredentials
from tests.conftest import git
from tests.fakegithub import FakeGitHub

T = TypeVar("T")
REPO = "octo-org/octo-repo"
APP = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from app import add, mul\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)


def make_project(path: Path) -> str:
    """A small project (app.py and its tests) committed on main; HEAD's sha."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "app.py").write_text(APP)
    (path / "tests").mkdir()
    (path / "tests" / "test_app.py").write_text(TESTS)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "app and its tests")
    return git(path, "rev-parse", "HEAD")


def commit_change(path: Path, branch: str, name: str, text: str) -> str:
    """A branch off main with ``name`` rewritten to ``text``; main stays checked out."""
    git(path, "checkout", "-q", "-b", branch, "main")
    (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"change {name}")
    sha = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "main")
    return sha


def clone_of(github: FakeGitHub, path: Path) -> Path:
    """A clone of the fake's repository (origin: its bare repository)."""
    git(path.parent, "clone", "-q", str(github.repository(REPO).bare), str(path))
    return path


class Clients:
    """Clients of the fake, closed together when the test ends."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        self.made: list[GitHubApi] = []

    def token(self, token: str | None = None) -> GitHubApi:
        credentials = TokenCredentials(token or self.github.add_token("actions"))
        return self._keep(GitHubApi(REPO, credentials, base_url=self.github.url))

    def app(self, key_pem: str | None = None) -> GitHubApi:
        pem = key_pem or self.github.private_key_pem
        credentials = AppCredentials(str(self.github.app_id), pem, base_url=self.github.url)
        return self._keep(GitHubApi(REPO, credentials, base_url=self.github.url))

    def _keep(self, client: GitHubApi) -> GitHubApi:
        self.made.append(client)
        return client

    def close(self) -> None:
        for client in self.made:
            client.close()


SECRET = "webhook-s3cret-for-tests"


def github_env(github: FakeGitHub) -> dict[str, str]:
    """The environment of a server that acts as the fake's GitHub App."""
    return {
        "GREENLINE_GITHUB_API_URL": github.url,
        "GREENLINE_GITHUB_APP_ID": str(github.app_id),
        "GREENLINE_GITHUB_APP_PRIVATE_KEY": github.private_key_pem,
        "GREENLINE_GITHUB_WEBHOOK_SECRET": SECRET,
    }


def wait_for(check: Callable[[], T | None], seconds: float = 30.0) -> T:
    """``check()`` once it is truthy (the server's background work is done)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing after {seconds}s")
        time.sleep(0.05)
