"""The fake GitHub's state: repositories (each a bare git repository that is the remote: refs
move for real), their pull requests, check runs and suites, statuses, comments and labels; a
GitHub App (an RSA key pair: the app signs its JWTs with the private key, the fake verifies them
with the public one) with an installation per repository; the tokens it issued; and every call
it received."""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Octo Cat",
    "GIT_AUTHOR_EMAIL": "octocat@example.com",
    "GIT_COMMITTER_NAME": "Octo Cat",
    "GIT_COMMITTER_EMAIL": "octocat@example.com",
}


def stamp(when: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Call:
    """One request the fake answered: never its credentials, only their kind."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str
    status: int = 0


@dataclass
class Token:
    value: str
    kind: str  # "installation" (the App's), "actions" (GITHUB_TOKEN) or "pat"
    installation_id: int | None = None
    expires: float | None = None
    login: str = "octocat"

    @property
    def app_slug(self) -> str | None:
        return {"installation": None, "actions": "github-actions"}.get(self.kind, "")


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    app_slug: str
    suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    external_id: str = ""
    details_url: str | None = None
    started_at: str = field(default_factory=stamp)
    completed_at: str | None = None


@dataclass
class CheckSuite:
    id: int
    head_sha: str
    head_branch: str | None
    app_slug: str
    created_at: str = field(default_factory=stamp)
    #: set for a suite reported as a whole (CI's); else it follows its check runs
    status: str | None = None
    conclusion: str | None = None


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str
    head_ref: str
    base_ref: str
    head_sha: str
    user: str = "octocat"
    labels: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    closed_at: str | None = None
    merged_at: str | None = None


@dataclass
class Comment:
    id: int
    number: int
    body: str
    login: str
    app_slug: str | None
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    created_at: str = field(default_factory=stamp)


class Repository:
    """One repository: its bare git repository and what GitHub keeps beside it."""

    def __init__(self, full_name: str, bare: Path, ids: itertools.count[int], branch: str):
        self.full_name = full_name
        self.owner, self.name = full_name.split("/")
        self.bare = bare
        self.id = next(ids)
        self.installation_id = next(ids)
        self.default_branch = branch
        self.pulls: dict[int, Pull] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.suites: dict[int, CheckSuite] = {}
        self.statuses: list[Status] = []
        self.comments: dict[int, Comment] = {}
        self.labels: dict[str, int] = {}
        self.pushed_at = stamp()

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.bare), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **GIT_ENV},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def resolve(self, ref: str) -> str | None:
        """The commit a sha, branch or full ref names here, or None."""
        if ref.startswith("-"):
            return None
        sha = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return sha or None

    def is_ancestor(self, old: str, new: str) -> bool:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.bare), "merge-base", "--is-ancestor", old, new],
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def move_ref(self, ref: str, new: str | None, old: str | None) -> bool:
        """Point ``ref`` at ``new`` (None: delete it) if it is still at ``old`` (None: absent);
        False when it moved meanwhile (git's compare-and-swap)."""
        zero = "0" * 40
        args = ["update-ref", "-d", ref, old or zero] if new is None else ["update-ref"]
        if new is not None:
            args += [ref, new, old or zero]
        proc = subprocess.run(
            ["git", "--git-dir", str(self.bare), *args], capture_output=True, check=False
        )
        if proc.returncode == 0:
            self.pushed_at = stamp()
        return proc.returncode == 0

    def head_of(self, pull: Pull) -> str:
        """A pull request's head now (its branch's tip while the branch exists)."""
        sha = self.resolve(f"refs/heads/{pull.head_ref}")
        if sha and sha != pull.head_sha:
            pull.head_sha = sha  # GitHub keeps refs/pull/N/head on the head
            self.git("update-ref", f"refs/pull/{pull.number}/head", sha)
        return pull.head_sha

    def refresh_merged(self, pull: Pull) -> None:
        """GitHub marks a pull request merged once its head is on its base branch."""
        if pull.merged_at is not None:
            return
        base = self.resolve(f"refs/heads/{pull.base_ref}")
        head = self.head_of(pull)
        if base and self.is_ancestor(head, base):
            pull.merged_at = pull.closed_at = stamp()


def generate_key() -> tuple[str, Any]:
    """A new RSA key pair: (private key as PEM, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


class State:
    """Everything the fake holds, behind one lock (the server's thread writes, tests read)."""

    def __init__(self, root: Path, *, app_id: int = 4242, app_slug: str = "greenline-test"):
        self.root = root
        self.app_id = app_id
        self.app_slug = app_slug
        self.private_key_pem, self.public_key = generate_key()
        self.ids = itertools.count(1001)
        self.repos: dict[str, Repository] = {}
        #: where the fake is served (its API's base URL), set when it starts
        self.url = "http://127.0.0.1"
        self.tokens: dict[str, Token] = {}
        self.calls: list[Call] = []
        self.lock = threading.RLock()
        #: seconds an installation token lives (GitHub's: one hour)
        self.token_seconds = 3600.0
        self.tokens_issued = 0
        self.jwts_verified = 0
        #: answers given instead of the next requests' own: (status, headers, message)
        self.forced: list[tuple[int, dict[str, str], str]] = []

    def repository(self, full_name: str) -> Repository | None:
        return self.repos.get(full_name.lower())

    def installation(self, installation_id: int) -> Repository | None:
        return next((r for r in self.repos.values() if r.installation_id == installation_id), None)

    def issue_token(self, installation_id: int) -> Token:
        token = Token(
            "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "B")[:36],
            "installation",
            installation_id,
            time.time() + self.token_seconds,
            login=f"{self.app_slug}[bot]",
        )
        self.tokens[token.value] = token
        self.tokens_issued += 1
        return token

    def add_token(self, kind: str = "actions", login: str = "github-actions[bot]") -> str:
        prefix = {"actions": "ghs_", "pat": "ghp_"}[kind]
        value = prefix + secrets.token_hex(18)
        self.tokens[value] = Token(value, kind, login=login)
        return value

    def next_id(self) -> int:
        return next(self.ids)
