"""The merge queue on pull requests through the local git forge (a bare repository with its
pull requests in a JSON record), with real git and real pytest runs as CI: of five pull
requests the good ones land, main passes its tests at every landed commit, the one that breaks
a test alone and one of the pair that only fails together are ejected with a comment naming
the failed tests; a new instance (or a new process) on the same store mid-queue, and a host
that was away when the queue decided, lose nothing and land nothing untested."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from greenline.api import Greenline
from greenline.errors import VcsError
from greenline.forge.local_git import LocalForge
from greenline.model import CommitInfo
from greenline.model.pulls import QUEUE_LABEL
from tests.conftest import git
from tests.scenarios.pr_queue_setup import (
    BROKEN_TEST,
    CI,
    CONFLICT_TEST,
    GOOD,
    PULLS,
    assert_green_at_every_commit,
    first_parents,
    make_project,
)

REPO = "demo/shop"


@dataclass
class Site:
    """The host (a local forge), the team server's clone and store, and CI."""

    forge: LocalForge
    server: Path
    ci: CI
    numbers: dict[str, int]
    gl: Greenline | None = None

    def open(self) -> Greenline:
        self.gl = Greenline.open(self.server)
        return self.gl

    def restart(self) -> Greenline:
        """A new instance of the service on the same store (the old one is dropped)."""
        assert self.gl is not None
        self.gl.close()
        return self.open()

    def deliver(self, event: str, payload: dict[str, Any]) -> str:
        assert self.gl is not None
        return self.gl.pull_queue.handle(event, payload)

    def play_ci(self, limit: int | None = None) -> int:
        """Test every queue branch not tested yet and report each verdict; how many."""
        done = 0
        while limit is None or done < limit:
            fresh = [
                (b, s)
                for b, s in sorted(self.forge.queue_branches().items(), key=_run_order)
                if (b, s) not in {(r[0], r[1]) for r in self.ci.runs}
            ]
            if not fresh:
                return done
            branch, sha = fresh[0]
            passed = self.ci.test(branch, sha)
            payload = self.forge.report_ci(branch, sha, "success" if passed else "failure")
            self.deliver("workflow_run", payload)
            done += 1
        return done

    def status(self) -> dict[str, Any]:
        assert self.gl is not None
        return self.gl.queue.status()


def _run_order(item: tuple[str, str]) -> int:
    return int(item[0].rsplit("/r", 1)[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    project = tmp_path / "project"
    make_project(project)
    forge = LocalForge.create(tmp_path / "forge" / "shop.git", REPO)
    git(project, "push", "-q", str(forge.bare), "refs/heads/*:refs/heads/*")
    numbers = {
        branch: forge.open_pull(branch, title)["number"] for branch, (_, title) in PULLS.items()
    }
    server = tmp_path / "server"
    git(tmp_path, "clone", "-q", str(forge.bare), str(server))

    uploads = Greenline.open(server)  # CI's own connection to greenline's store

    def upload(junit: Path, sha: str, branch: str) -> None:
        uploads.runs.import_junit([junit], commit=CommitInfo(sha=sha, branch=branch))

    ci = CI(str(forge.bare), tmp_path / "ci", upload)
    made = Site(forge, server, ci, numbers)
    made.open()
    yield made
    if made.gl is not None:
        made.gl.close()
    uploads.close()


def label_all(site: Site) -> list[str]:
    return [
        site.deliver("pull_request", site.forge.add_label(n, QUEUE_LABEL))
        for n in site.numbers.values()
    ]


def outcomes(site: Site) -> tuple[dict[str, str], dict[str, str], set[str]]:
    landed, ejected, commits = {}, {}, set()
    assert site.gl is not None
    _, doc = site.gl.queue.docs.read()
    assert doc is not None
    for item in doc.journal:
        for change in item["changes"]:
            if item["kind"] == "landed":
                landed[change] = item["reason"]
                commits.add(item["commit"])
            elif item["kind"] == "ejected":
                ejected[change] = item["reason"]
    return landed, ejected, commits


def assert_the_queue_did_right(site: Site, tmp_path: Path) -> None:
    status = site.status()
    assert status["entries"] == [] and status["forge"] == {"kind": "local-git", "repository": REPO}
    landed, ejected, commits = outcomes(site)
    n = site.numbers
    assert set(landed) == {f"#{n[b]}" for b in GOOD}
    assert set(ejected) == {f"#{n['broken-add']}", f"#{n['item-d']}"}
    assert ejected[f"#{n['broken-add']}"].startswith("fails alone on main")
    assert BROKEN_TEST in ejected[f"#{n['broken-add']}"]
    assert CONFLICT_TEST in ejected[f"#{n['item-d']}"]
    assert "conflicts" in ejected[f"#{n['item-d']}"]
    history = first_parents(site.forge.bare)
    # main moved only to trees whose own CI passed: one merge per landed pull request
    assert set(history[1:]) <= site.ci.passed and set(history[1:]) <= commits
    assert len(history) == 1 + len(GOOD)
    assert_green_at_every_commit(site.forge.bare, history, tmp_path)
    for branch in GOOD:
        pull = site.forge.read_pull(n[branch])
        assert pull.merged and not pull.open
    for branch, test in (("broken-add", BROKEN_TEST), ("item-d", CONFLICT_TEST)):
        (comment,) = site.forge.comments(n[branch])
        assert "took this pull request out" in comment
        assert f"`{test}`" in comment, comment
        assert QUEUE_LABEL not in site.forge.read_pull(n[branch]).labels
    assert site.forge.queue_branches() == {}, "every queue branch is cleaned up"


def test_five_pull_requests_the_good_ones_land_and_main_stays_green(
    site: Site, tmp_path: Path
) -> None:
    said = label_all(site)
    assert all(": queued at " in s for s in said), said
    assert site.status()["entries"][0]["pull_request"] == site.numbers["calc"]
    # each pull request is first checked alone on main: five branches pushed at once (4 runners)
    assert len(site.forge.queue_branches()) == 4
    site.play_ci()
    assert_the_queue_did_right(site, tmp_path)
    # a result for a tree nobody waits for any more changes nothing
    branch, sha, _ = site.ci.runs[0]
    late = site.deliver("workflow_run", site.forge.report_ci(branch, sha, "failure"))
    assert "is not running (ignored)" in late
    assert site.forge.calls > 0


def test_a_restart_mid_queue_loses_nothing(site: Site, tmp_path: Path) -> None:
    label_all(site)
    site.play_ci(limit=3)
    before = site.status()
    assert before["entries"], "the restart comes mid-queue"
    site.restart()
    after = site.status()
    assert after["entries"] == before["entries"] and after["journal"] == before["journal"]
    site.play_ci(limit=2)
    site.restart()
    site.play_ci()
    assert_the_queue_did_right(site, tmp_path)


def test_a_host_away_when_the_queue_decided_is_caught_up_by_a_new_process(
    site: Site, tmp_path: Path
) -> None:
    label_all(site)
    site.play_ci(limit=2)
    # the host goes away: CI's next verdict is in, but the trees it makes the queue start
    # cannot be pushed, and the process handling the verdict fails
    branch, sha = sorted(site.forge.queue_branches().items(), key=_run_order)[0]
    passed = site.ci.test(branch, sha)
    payload = site.forge.report_ci(branch, sha, "success" if passed else "failure")
    away = site.forge.bare.with_name("away.git")
    site.forge.bare.rename(away)
    with pytest.raises(VcsError):
        site.deliver("workflow_run", payload)
    assert site.gl is not None
    site.gl.close()
    site.gl = None
    away.rename(site.forge.bare)
    # a new process on the same store: the decision is in the store, its work gets done
    synced = subprocess.run(
        [sys.executable, "-m", "greenline", "queue", "sync", "--format", "json"],
        cwd=site.server,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["pushed"] >= 1, report
    site.open()
    site.play_ci()
    assert_the_queue_did_right(site, tmp_path)


def test_bad_input_is_refused_with_a_hint(site: Site) -> None:
    from greenline.errors import ForgeError, UsageError

    assert site.gl is not None
    with pytest.raises(ForgeError, match="no pull request #99"):
        site.gl.pull_queue.add(99)
    with pytest.raises(UsageError, match="#1 is not queued") as refused:
        site.gl.pull_queue.remove(1)
    assert refused.value.hint == "greenline queue status"
    entry = site.gl.pull_queue.add(site.numbers["guide"])
    git(site.server, "branch", "calc", "origin/calc")
    with pytest.raises(UsageError, match="landing pull requests") as busy:
        site.gl.queue.add("calc")
    assert busy.value.hint and "--pr" in busy.value.hint
    assert entry.change_id == f"#{site.numbers['guide']}"


def junit_with(path: Path, failed: bool) -> Path:
    failure = '<failure message="flaked">it flaked</failure>' if failed else ""
    path.write_text(
        '<testsuites><testsuite name="pytest" tests="1">'
        f'<testcase classname="tests.test_shop" name="test_add" file="tests/test_shop.py">'
        f"{failure}</testcase></testsuite></testsuites>"
    )
    return path


def test_a_failure_only_in_a_known_flaky_test_is_run_again_not_blamed(
    site: Site, tmp_path: Path
) -> None:
    assert site.gl is not None
    main = git(site.server, "rev-parse", "origin/main")
    for i, failed in enumerate((False, True)):  # test_add passed and failed on main: flaky
        report = junit_with(tmp_path / f"main-{i}.xml", failed)
        site.gl.runs.import_junit([report], commit=CommitInfo(sha=main, branch="main"))
    number = site.numbers["guide"]
    site.deliver("pull_request", site.forge.add_label(number, QUEUE_LABEL))
    ((branch, sha),) = site.forge.queue_branches().items()
    report = junit_with(tmp_path / "tree.xml", failed=True)
    site.gl.runs.import_junit([report], commit=CommitInfo(sha=sha, branch=branch))
    said = site.deliver("workflow_run", site.forge.report_ci(branch, sha, "failure"))
    assert said == "run r1 failed (CI)"
    ((again, same),) = site.forge.queue_branches().items()
    assert (again, same) == ("greenline/queue/r2", sha), "the same tree, checked again"
    site.play_ci()
    landed, ejected, _ = outcomes(site)
    assert set(landed) == {f"#{number}"} and not ejected
    _, doc = site.gl.queue.docs.read()
    assert doc is not None
    (flaky,) = [i for i in doc.journal if i["kind"] == "flaky"]
    assert flaky["run"] == "r1" and flaky["reason"] == BROKEN_TEST
