"""The fake GitHub: its state, served by uvicorn on a loopback port, and what a test does on
GitHub's side: add a repository (a bare git repository, pushed from a local one), open a pull
request, push a branch, report CI's results, make GitHub rate-limit the next calls. Webhooks for
what happens are sent, signed, to the URL a test gives, in order, from a thread of their own
(GitHub delivers asynchronously too)."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from tests.fakegithub import events, graphql, rest_checks, rest_repo
from tests.fakegithub.endpoint import endpoint
from tests.fakegithub.state import GIT_ENV, Call, CheckRun, CheckSuite, Pull, Repository, State

R = "/repos/{owner}/{repo}"


@dataclass
class Delivery:
    """A webhook the fake sent, and the answer it got."""

    event: str
    delivery_id: str
    payload: Any
    status: int | None = None
    seconds: float = 0.0


class FakeGitHub:
    """GitHub for tests: ``fake.url`` is its API; ``fake.state`` what it holds."""

    def __init__(self, root: Path, *, app_id: int = 4242, app_slug: str = "greenline-test"):
        root.mkdir(parents=True, exist_ok=True)
        self.state = State(root, app_id=app_id, app_slug=app_slug)
        self.webhook_url: str | None = None
        self.webhook_secret = ""
        self.deliveries: list[Delivery] = []
        self._outbox: queue.Queue[Delivery | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._server: uvicorn.Server | None = None

    # -- serving ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.state.url

    def app(self) -> Starlette:
        def route(path: str, work: Any, method: str, auth: str = "token") -> Route:
            return Route(path, endpoint(self, work, auth=auth), methods=[method])

        c, r = rest_checks, rest_repo
        return Starlette(
            routes=[
                route(f"{R}/installation", c.get_installation, "GET", "jwt"),
                route(
                    "/app/installations/{installation_id:int}/access_tokens",
                    c.create_installation_token,
                    "POST",
                    "jwt",
                ),
                route(f"{R}/check-runs", c.create_check_run, "POST"),
                route(f"{R}/check-runs/{{check_run_id:int}}", c.update_check_run, "PATCH"),
                route(f"{R}/check-runs/{{check_run_id:int}}", c.get_check_run, "GET"),
                route(
                    f"{R}/check-runs/{{check_run_id:int}}/annotations", c.list_annotations, "GET"
                ),
                route(f"{R}/commits/{{ref:path}}/check-runs", c.runs_for_ref, "GET"),
                route(f"{R}/commits/{{ref:path}}/check-suites", c.suites_for_ref, "GET"),
                route(f"{R}/commits/{{ref:path}}/status", c.combined_status, "GET"),
                route(f"{R}/statuses/{{sha}}", c.create_status, "POST"),
                route(R, r.get_repository, "GET"),
                route(f"{R}/pulls", r.list_pulls, "GET"),
                route(f"{R}/pulls/{{number:int}}", r.get_pull, "GET"),
                route(f"{R}/pulls/{{number:int}}/files", r.pull_files, "GET"),
                route(f"{R}/issues/{{number:int}}/comments", r.list_comments, "GET"),
                route(f"{R}/issues/{{number:int}}/comments", r.create_comment, "POST"),
                route(f"{R}/issues/comments/{{comment_id:int}}", r.update_comment, "PATCH"),
                route(f"{R}/issues/{{number:int}}/labels", r.add_labels, "POST"),
                route(f"{R}/issues/{{number:int}}/labels/{{name}}", r.remove_label, "DELETE"),
                route(f"{R}/git/ref/{{ref:path}}", r.get_ref, "GET"),
                route(f"{R}/git/matching-refs/{{ref:path}}", r.matching_refs, "GET"),
                route(f"{R}/git/refs", r.create_ref, "POST"),
                route(f"{R}/git/refs/{{ref:path}}", r.update_ref, "PATCH"),
                route(f"{R}/git/refs/{{ref:path}}", r.delete_ref, "DELETE"),
                route("/graphql", graphql.run_query, "POST"),
            ]
        )

    @contextlib.contextmanager
    def serving(self) -> Iterator[FakeGitHub]:
        """The fake on a free loopback port for the block (and its webhook sender)."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.state.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        self._sender = threading.Thread(target=self._send_all, daemon=True)
        self._sender.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake GitHub did not start")
            time.sleep(0.02)
        try:
            yield self
        finally:
            self._outbox.put(None)
            self._sender.join(timeout=30)
            self._server.should_exit = True
            thread.join(timeout=30)

    # -- webhooks --------------------------------------------------------------------------
    def send(self, event: str, payload: Any, delivery_id: str | None = None) -> Delivery:
        """Queue a webhook (sent only when a webhook URL is set)."""
        delivery = Delivery(event, delivery_id or str(uuid.uuid4()), payload)
        if self.webhook_url:
            self.deliveries.append(delivery)
            self._outbox.put(delivery)
        return delivery

    def _send_all(self) -> None:
        with httpx.Client(timeout=60) as client:
            while (delivery := self._outbox.get()) is not None:
                body = events.encode(delivery.payload)
                headers = {
                    "X-GitHub-Event": delivery.event,
                    "X-GitHub-Delivery": delivery.delivery_id,
                    "X-GitHub-Hook-ID": "1",
                    "X-Hub-Signature-256": events.signature(self.webhook_secret, body),
                    "User-Agent": "GitHub-Hookshot/fake",
                    "Content-Type": "application/json",
                }
                start = time.perf_counter()
                try:
                    delivery.status = client.post(
                        self.webhook_url or "", content=body, headers=headers
                    ).status_code
                except httpx.HTTPError:
                    delivery.status = 0  # GitHub records a failed delivery and moves on
                delivery.seconds = time.perf_counter() - start
                self._outbox.task_done()

    def flush(self, seconds: float = 30.0) -> None:
        """Wait until every queued webhook was sent."""
        deadline = time.monotonic() + seconds
        while self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhooks still queued")
            time.sleep(0.02)

    # -- GitHub's side ---------------------------------------------------------------------
    def add_repository(
        self, full_name: str, source: Path | None = None, default_branch: str = "main"
    ) -> Repository:
        """A repository whose remote is a new bare git repository, with every branch of the
        local repository ``source`` pushed to it."""
        bare = self.state.root / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git(bare.parent, "init", "-q", "--bare", "-b", default_branch, str(bare))
        with self.state.lock:
            repo = Repository(full_name, bare, self.state.ids, default_branch)
            self.state.repos[full_name.lower()] = repo
        if source is not None:
            _git(source, "push", "-q", str(bare), "refs/heads/*:refs/heads/*")
        return repo

    def repository(self, full_name: str) -> Repository:
        repo = self.state.repository(full_name)
        assert repo is not None, f"no repository {full_name} at the fake"
        return repo

    def push(self, full_name: str, source: Path, branch: str, *, force: bool = False) -> str:
        """``git push`` of ``branch`` from ``source``, and the webhooks GitHub sends for it."""
        repo = self.repository(full_name)
        ref = f"refs/heads/{branch}"
        before = repo.resolve(ref)
        _git(
            source, "push", "-q", *(["--force"] if force else []), str(repo.bare), f"{branch}:{ref}"
        )
        after = repo.resolve(ref)
        with self.state.lock:
            moved = events.moved_ref_events(self.state, repo, ref, before, after, force)
        for event, payload in moved:
            self.send(event, payload)
        assert after is not None
        return after

    def open_pull(
        self, full_name: str, head: str, base: str | None = None, title: str = "", body: str = ""
    ) -> Pull:
        """A pull request of branch ``head`` into ``base`` (``pull_request`` opened is sent)."""
        repo = self.repository(full_name)
        with self.state.lock:
            sha = repo.resolve(f"refs/heads/{head}")
            assert sha is not None, f"no branch {head} at the fake"
            number = max([*repo.pulls, 0]) + 1
            pull = Pull(
                number,
                self.state.next_id(),
                title or head,
                body,
                head,
                base or repo.default_branch,
                sha,
            )
            repo.pulls[number] = pull
            repo.git("update-ref", f"refs/pull/{number}/head", sha)
            payload = events.pull_request_event(self.state, repo, pull, "opened")
        self.send("pull_request", payload)
        return pull

    def report_ci(
        self, full_name: str, sha: str, conclusion: str, *, workflow: str = "CI", job: str = "test"
    ) -> CheckSuite:
        """CI (GitHub Actions) finished on ``sha``: its check run and suite completed, and the
        ``check_run``, ``check_suite`` and ``workflow_run`` webhooks of it."""
        repo = self.repository(full_name)
        with self.state.lock:
            suite = CheckSuite(self.state.next_id(), sha, _branch_at(repo, sha), "github-actions")
            repo.suites[suite.id] = suite
            run = CheckRun(
                self.state.next_id(),
                job,
                sha,
                "github-actions",
                suite.id,
                status="completed",
                conclusion=conclusion,
            )
            repo.check_runs[run.id] = run
            sent = [
                ("check_run", events.check_run_event(self.state, repo, run, "completed")),
                ("check_suite", events.check_suite_event(self.state, repo, suite, "completed")),
                (
                    "workflow_run",
                    events.workflow_run_event(self.state, repo, suite, workflow=workflow),
                ),
            ]
        for event, payload in sent:
            self.send(event, payload)
        return suite

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: int | None = None,
        reset_in: int | None = None,
        status: int = 403,
    ) -> None:
        """Answer the next ``count`` requests as GitHub does when a rate limit is spent."""
        headers = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + (reset_in or 60)),
        }
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        message = "API rate limit exceeded for installation ID 1."
        with self.state.lock:
            self.state.forced += [(status, headers, message)] * count

    def add_token(self, kind: str = "actions") -> str:
        """A token GitHub knows: ``actions`` (a workflow's GITHUB_TOKEN) or ``pat``."""
        with self.state.lock:
            return self.state.add_token(
                kind, "github-actions[bot]" if kind == "actions" else "octocat"
            )

    @property
    def private_key_pem(self) -> str:
        return self.state.private_key_pem

    @property
    def app_id(self) -> int:
        return self.state.app_id

    def calls(self, method: str | None = None, path: str = "") -> list[Call]:
        with self.state.lock:
            return [
                c
                for c in self.state.calls
                if (method is None or c.method == method) and c.path.startswith(path)
            ]

    def check_runs(self, full_name: str, sha: str | None = None) -> list[CheckRun]:
        repo = self.repository(full_name)
        with self.state.lock:
            return [r for r in repo.check_runs.values() if sha is None or r.head_sha == sha]


def _branch_at(repo: Repository, sha: str) -> str | None:
    return next(
        (
            ref.removeprefix("refs/heads/")
            for ref, tip in repo.refs("refs/heads/").items()
            if tip == sha
        ),
        None,
    )


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()
