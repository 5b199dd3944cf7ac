"""The merge queue on pull requests through GitHub: greenline's team server (a real server on
loopback, over a clone of the fake GitHub's bare repository, the store in SQLite or PostgreSQL)
acts as the fake's GitHub App; the fake delivers its webhooks signed to the server's
``/webhooks/github``. Five pull requests are labelled ``greenline:queue``; CI runs the project's
real tests with pytest on every queue branch pushed, uploads the results to the store and
completes its check suite at the fake (``check_run``, ``check_suite``, ``workflow_run``
webhooks). The good pull requests land (GitHub marks them merged), main passes its tests at
every landed commit, the bad ones are ejected with a comment naming the failed tests; the
server restarted mid-queue, with a CI verdict delivered while it was down, loses nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from greenline.api import Greenline
from greenline.model import CommitInfo
from greenline.model.pulls import QUEUE_BRANCH_PREFIX, QUEUE_LABEL
from greenline.web import create_app
from tests.fakegithub import FakeGitHub
from tests.integration.github_setup import REPO, SECRET, Clients, clone_of, github_env, wait_for
from tests.integration.web import serve
from tests.scenarios.pr_queue_setup import (
    BROKEN_TEST,
    CI,
    CONFLICT_TEST,
    GOOD,
    PULLS,
    assert_green_at_every_commit,
    first_parents,
    make_project,
    report_ci_at_fake,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def report_ci(github: FakeGitHub, branch: str, sha: str, conclusion: str) -> None:
    report_ci_at_fake(github, REPO, branch, sha, conclusion)


@dataclass
class Hub:
    github: FakeGitHub
    clone: Path
    db: str
    ci: CI
    reader: Greenline  # the store as CI (and the test) sees it
    numbers: dict[str, int] = field(default_factory=dict)

    def open(self) -> Greenline:
        return Greenline.open(self.clone, db=self.db)

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        with serve(create_app(self.open)) as url:
            self.github.webhook_url, self.github.webhook_secret = f"{url}/webhooks/github", SECRET
            yield url
            self.github.flush()
            self.github.webhook_url = None

    def fresh_branches(self) -> list[tuple[str, str]]:
        tested = {(b, s) for b, s, _ in self.ci.runs}
        refs = self.github.repository(REPO).refs(f"refs/heads/{QUEUE_BRANCH_PREFIX}")
        found = [(r.removeprefix("refs/heads/"), s) for r, s in refs.items()]
        return sorted((f for f in found if f not in tested), key=lambda f: int(f[0][17:]))

    def queue(self) -> dict[str, object]:
        return self.reader.queue.status()

    def is_idle(self) -> bool:
        """Nothing queued, nothing left to do on GitHub, every queue branch gone."""
        _, doc = self.reader.queue.docs.read()
        done = doc is not None and not doc.state.entries and not doc.pending
        forge = (doc.forge or {}) if doc else {}
        return done and not forge.get("outbox") and not self.fresh_branches()

    def play_ci(self, limit: int | None = None) -> int:
        """Test each queue branch as it appears and report its verdict; how many."""
        done = 0
        while limit is None or done < limit:
            fresh = wait_for(lambda: self.fresh_branches() or self.is_idle(), seconds=120)
            if fresh is True:
                return done
            branch, sha = fresh[0]  # type: ignore[index]
            passed = self.ci.test(branch, sha)
            report_ci(self.github, branch, sha, "success" if passed else "failure")
            self.github.flush()
            done += 1
        return done


@pytest.fixture
def hub(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    project = tmp_path / "project"
    make_project(project)
    with FakeGitHub(tmp_path / "github").serving() as github:
        github.add_repository(REPO, source=project)
        clone = clone_of(github, tmp_path / "server")
        for name, value in github_env(github).items():
            monkeypatch.setenv(name, value)
        uploads = Greenline.open(clone, db=database_url)  # CI's own connection to the store

        def upload(junit: Path, sha: str, branch: str) -> None:
            uploads.runs.import_junit([junit], commit=CommitInfo(sha=sha, branch=branch))

        ci = CI(str(github.repository(REPO).bare), tmp_path / "ci", upload)
        made = Hub(github, clone, database_url, ci, uploads)
        for branch, (_, title) in PULLS.items():
            made.numbers[branch] = github.open_pull(REPO, branch, title=title).number
        try:
            yield made
        finally:
            uploads.close()


def label_all(hub: Hub) -> None:
    clients = Clients(hub.github)
    try:
        author = clients.token(hub.github.add_token("pat"))
        for number in hub.numbers.values():
            author.add_labels(number, [QUEUE_LABEL])
    finally:
        clients.close()


def assert_the_queue_did_right(hub: Hub, tmp_path: Path) -> None:
    repo = hub.github.repository(REPO)
    _, doc = hub.reader.queue.docs.read()
    assert doc is not None and doc.forge is not None
    landed = {c for i in doc.journal if i["kind"] == "landed" for c in i["changes"]}
    ejected = {c: i["reason"] for i in doc.journal if i["kind"] == "ejected" for c in i["changes"]}
    n = hub.numbers
    assert landed == {f"#{n[b]}" for b in GOOD}
    assert set(ejected) == {f"#{n['broken-add']}", f"#{n['item-d']}"}
    assert BROKEN_TEST in ejected[f"#{n['broken-add']}"]
    assert CONFLICT_TEST in ejected[f"#{n['item-d']}"]
    history = first_parents(repo.bare)
    assert len(history) == 1 + len(GOOD) and set(history[1:]) <= hub.ci.passed
    assert_green_at_every_commit(repo.bare, history, tmp_path)
    for branch in GOOD:
        assert repo.pulls[n[branch]].merged_at is not None, f"{branch} is merged at GitHub"
    for branch, test in (("broken-add", BROKEN_TEST), ("item-d", CONFLICT_TEST)):
        pull = repo.pulls[n[branch]]
        assert pull.merged_at is None and QUEUE_LABEL not in pull.labels
        (comment,) = [c for c in repo.comments.values() if c.number == pull.number]
        assert comment.app_slug == "greenline-test" and f"`{test}`" in comment.body
    assert repo.refs(f"refs/heads/{QUEUE_BRANCH_PREFIX}") == {}


def test_five_pull_requests_through_github(hub: Hub, tmp_path: Path) -> None:
    with hub.serving():
        label_all(hub)
        hub.play_ci()
        hub.github.flush()
        wait_for(hub.is_idle)
    assert_the_queue_did_right(hub, tmp_path)
    sent = [(d.event, d.status) for d in hub.github.deliveries]
    assert {s for _, s in sent} == {202}, "every delivery taken"
    calls = hub.github.calls()
    assert any(c.method == "PATCH" and c.path.endswith("/git/refs/heads/main") for c in calls)


def test_a_server_restarted_mid_queue_loses_nothing(hub: Hub, tmp_path: Path) -> None:
    with hub.serving():
        label_all(hub)
        hub.play_ci(limit=3)
        wait_for(lambda: hub.fresh_branches())
    before = hub.queue()  # as the stopped server left it
    assert before["entries"], "the restart comes mid-queue"
    # CI finishes a tree while the server is down: GitHub's webhooks of it go nowhere
    branch, sha = hub.fresh_branches()[0]
    passed = hub.ci.test(branch, sha)
    report_ci(hub.github, branch, sha, "success" if passed else "failure")
    assert hub.queue()["entries"] == before["entries"]
    with hub.serving():  # the new server asks GitHub what it missed, then goes on
        hub.play_ci()
        wait_for(hub.is_idle)
    assert_the_queue_did_right(hub, tmp_path)
    _, doc = hub.reader.queue.docs.read()
    assert doc is not None
    missed = [i for i in doc.journal if i["kind"] == "ci" and i["commit"] == sha]
    assert missed and missed[0]["run"] == branch.removeprefix(QUEUE_BRANCH_PREFIX)
