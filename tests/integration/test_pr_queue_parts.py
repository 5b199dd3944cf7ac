"""The parts of the merge queue on pull requests, each on real git: tree commits made in the
object store alone (the same commit every time, None on a conflict), the local forge's refs and
record (fast-forward only, one comment per key, CI results by branch), the ejection comment
(outside text escaped), and the crash-safe outbox (a lease per process, refusals given up after
three tries with a note)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from greenline import vcs
from greenline.api import Greenline
from greenline.api.pr_queue_work import LEASE_SECONDS, QueueWork, eject_comment
from greenline.api.queue_runner import QueueDoc
from greenline.errors import NoDataError
from greenline.forge.local_git import LocalForge
from greenline.mergequeue.engine import initial_state
from greenline.model.queue import Eject, QueueConfig
from tests.conftest import git


def branch_off(repo: Path, name: str, path: str, text: str) -> str:
    git(repo, "checkout", "-q", "-b", name, "main")
    (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)
    git(repo, "checkout", "-q", "main")
    return git(repo, "rev-parse", name)


def test_a_tree_commit_is_the_same_every_time_and_none_on_a_conflict(git_repo: Path) -> None:
    main = git(git_repo, "rev-parse", "main")
    one = branch_off(git_repo, "one", "one.txt", "1\n")
    clash = branch_off(git_repo, "clash", "README.md", "another readme\n")
    other = branch_off(git_repo, "other", "README.md", "a third readme\n")
    first = vcs.merge_tree_commit(git_repo, main, one, "Merge one\n")
    time.sleep(1.1)  # a commit made with the clock's time would differ now
    again = vcs.merge_tree_commit(git_repo, main, one, "Merge one\n")
    assert first is not None and first == again
    assert git(git_repo, "show", "-s", "--format=%P", first).split() == [main, one]
    assert git(git_repo, "show", f"{first}:one.txt") == "1"
    assert git(git_repo, "status", "--porcelain") == "", "no work tree touched"
    on_top = vcs.merge_tree_commit(git_repo, first, clash, "Merge clash\n")
    assert on_top is not None
    assert vcs.merge_tree_commit(git_repo, on_top, other, "Merge other\n") is None


@pytest.fixture
def forge(tmp_path: Path, git_repo: Path) -> LocalForge:
    made = LocalForge.create(tmp_path / "forge.git", "demo/parts")
    branch_off(git_repo, "feature", "f.txt", "f\n")
    git(git_repo, "push", "-q", str(made.bare), "refs/heads/*:refs/heads/*")
    return made


def test_the_local_forge_moves_refs_for_real(forge: LocalForge, git_repo: Path) -> None:
    main, feature = git(git_repo, "rev-parse", "main"), git(git_repo, "rev-parse", "feature")
    opened = forge.open_pull("feature", "Add f")
    number = opened["number"]
    assert opened["pull_request"]["head"] == {"ref": "feature", "sha": feature}
    pull = forge.read_pull(number)
    assert pull.open and not pull.merged and pull.base_ref == "main"
    vcs.push_commit(git_repo, str(forge.bare), feature, "refs/heads/greenline/queue/r1", {})
    assert forge.queue_branches() == {"greenline/queue/r1": feature}
    assert forge.fast_forward("main", feature) and forge.branch_sha("main") == feature
    assert forge.fast_forward("main", feature), "already there"
    assert not forge.fast_forward("main", main), "backwards is no fast-forward"
    assert forge.branch_sha("main") == feature
    merged = forge.read_pull(number)
    assert merged.merged and not merged.open, "merged once its head is on its base"
    assert forge.delete_branch("greenline/queue/r1") and not forge.delete_branch("nope")
    assert forge.queue_branches() == {}


def test_comments_labels_and_ci_results(forge: LocalForge, git_repo: Path) -> None:
    number = forge.open_pull("feature")["number"]
    labeled = forge.add_label(number, "greenline:queue")
    assert labeled["label"] == {"name": "greenline:queue"}
    assert forge.read_pull(number).labels == ("greenline:queue",)
    forge.upsert_comment(number, "queue", "first")
    forge.upsert_comment(number, "queue", "second")
    forge.upsert_comment(number, "other", "third")
    assert forge.comments(number) == ["second", "third"]
    forge.remove_label(number, "greenline:queue")
    forge.remove_label(number, "greenline:queue")
    assert forge.read_pull(number).labels == ()
    sha = git(git_repo, "rev-parse", "feature")
    payload = forge.report_ci("greenline/queue/r2", sha, "failure")
    assert payload["workflow_run"]["head_branch"] == "greenline/queue/r2"
    (result,) = forge.ci_results("greenline/queue/r2", sha)
    assert not result.passed and result.conclusion == "failure"
    assert forge.ci_results("greenline/queue/r3", sha) == []


def test_the_ejection_comment_shows_outside_text_as_text() -> None:
    doc = QueueDoc("main", "0" * 40, initial_state(QueueConfig(), "0" * 40))
    doc.commits["r4"] = "c" * 40
    action = Eject(
        "#3", "fails alone on main: [x](javascript:y) <img>", "r4", ("tests/t.py::test_`odd`",)
    )
    body = eject_comment(doc, action)
    assert r"\[x\]\(javascript:y\) \<img\>" in body
    assert "- `` tests/t.py::test_`odd` ``" in body
    assert "`cccccccccccc` (branch `greenline/queue/r4`)" in body


def pull_queue_doc(gl: Greenline, forge: LocalForge, outbox: list[dict[str, object]]) -> None:
    def make(doc: QueueDoc) -> None:
        doc.forge = {
            "kind": forge.kind,
            "repository": forge.repository,
            "where": {"kind": forge.kind, "path": str(forge.bare)},
            "pulls": {},
            "pushed": {},
            "outbox": outbox,
            "lease": None,
        }

    gl.queue.docs.change(make, create=True)


def test_a_refused_outbox_item_is_given_up_after_three_tries(
    forge: LocalForge, git_repo: Path
) -> None:
    with Greenline.open(git_repo) as gl:
        outbox: list[dict[str, object]] = [
            {"do": "comment", "number": 99, "body": "to a pull request that is not there"},
            {"do": "delete", "branch": "greenline/queue/r9"},
        ]
        pull_queue_doc(gl, forge, outbox)
        done = QueueWork(gl.queue.docs, forge, git_repo).run()
        _, doc = gl.queue.docs.read()
    assert doc is not None and doc.forge is not None
    assert doc.forge["outbox"] == [] and doc.forge["lease"] is None
    assert done.deleted == 1 and done.commented == 0
    (note,) = [i for i in doc.journal if i["kind"] == "host-refused"]
    assert note["reason"].startswith("comment given up: demo/parts has no pull request #99")


def test_work_in_hand_elsewhere_is_left_to_that_process_until_its_lease_runs_out(
    forge: LocalForge, git_repo: Path
) -> None:
    with Greenline.open(git_repo) as gl:
        pull_queue_doc(gl, forge, [{"do": "delete", "branch": "greenline/queue/r9"}])

        def held(doc: QueueDoc, until: float) -> None:
            assert doc.forge is not None
            doc.forge["lease"] = {"by": "another:1:x", "until": until}

        gl.queue.docs.change(lambda d: held(d, time.time() + LEASE_SECONDS))
        assert QueueWork(gl.queue.docs, forge, git_repo).run().deleted == 0
        gl.queue.docs.change(lambda d: held(d, time.time() - 1))  # that process died
        assert QueueWork(gl.queue.docs, forge, git_repo).run().deleted == 1


def test_a_merge_group_gets_the_selection_of_its_own_change(tmp_path: Path) -> None:
    from tests.integration.github_setup import APP, commit_change, make_project
    from tests.integration.web import TEST_ADD, TEST_MUL, record_baseline

    repo = tmp_path / "project"
    base = make_project(repo)
    head_of_pull = commit_change(repo, "swap", "app.py", APP.replace("a * b", "b * a"))
    group = vcs.merge_tree_commit(repo, base, head_of_pull, "Merge group\n")
    assert group is not None
    with Greenline.open(repo) as gl:
        record_baseline(gl, repo)
        plan = gl.selection.plan_merge_group(base, group)
        with pytest.raises(NoDataError, match="not in"):
            gl.selection.plan_merge_group(base, "f" * 40)
    assert [t.test_id for t in plan.selected] == [TEST_MUL]
    assert TEST_ADD not in {t.test_id for t in plan.selected}


def test_pull_requests_queued_and_removed_over_rest(forge: LocalForge, git_repo: Path) -> None:
    import httpx

    from greenline.web import create_app
    from tests.integration.web import bearer, error_of, serve

    git(git_repo, "remote", "add", "origin", str(forge.bare))
    number = forge.open_pull("feature", "Add f")["number"]
    with Greenline.open(git_repo) as gl:
        writer = gl.tokens.create("writer", "write")[0]
    with serve(create_app(lambda: Greenline.open(git_repo))) as url:
        api = f"{url}/api/v1/queue"
        added = httpx.post(f"{api}/pulls", json={"number": number}, headers=bearer(writer))
        assert added.status_code == 201, added.text
        assert added.json()["queued"] == f"#{number}" and added.json()["pull_request"] == number
        status = httpx.get(api, headers=bearer(writer)).json()
        assert [e["pull_request"] for e in status["entries"]] == [number]
        assert list(forge.queue_branches()) == ["greenline/queue/r1"]
        gone = httpx.delete(f"{api}/pulls/{number}", headers=bearer(writer))
        assert gone.status_code == 200 and gone.json()["entries"] == []
        assert forge.queue_branches() == {}
        again = httpx.delete(f"{api}/pulls/{number}", headers=bearer(writer))
        assert again.status_code == 400
        assert error_of(again)["hint"] == "greenline queue status"
        bad = httpx.post(f"{api}/pulls", json={"number": 0}, headers=bearer(writer))
        assert bad.status_code in (400, 422)
