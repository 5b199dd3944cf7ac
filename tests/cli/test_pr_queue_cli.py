"""greenline queue add/remove --pr and queue sync on the command line, in a checkout whose origin
is a local forge: a pull request queued and pushed as its pre-check tree, shown by queue status,
removed again (its branch deleted); a branch and --pr together, or neither, are refused."""

from __future__ import annotations

from pathlib import Path

from greenline.forge.local_git import LocalForge
from tests.cli.conftest import Cli
from tests.conftest import git


def forge_with_a_pull(repo: Path) -> LocalForge:
    forge = LocalForge.create(repo.parent / "origin.git", "demo/cli")
    git(repo, "checkout", "-q", "-b", "docs", "main")
    (repo / "GUIDE.md").write_text("a guide\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a guide")
    git(repo, "checkout", "-q", "main")
    git(repo, "remote", "add", "origin", str(forge.bare))
    git(repo, "push", "-q", "origin", "main", "docs")
    forge.open_pull("docs", "Write a guide")
    return forge


def test_a_pull_request_queued_shown_and_removed(cli: Cli, git_repo: Path) -> None:
    forge = forge_with_a_pull(git_repo)
    added = cli("queue", "add", "--pr", "1", "-f", "json")
    assert added.code == 0, added.err
    doc = added.json()
    assert (doc["queued"], doc["pull_request"]) == ("#1", 1)
    assert doc["head"] == git(git_repo, "rev-parse", "docs")
    assert list(forge.queue_branches()) == ["greenline/queue/r1"], "its pre-check tree"
    status = cli("queue", "status", "-f", "json").json()
    assert status["forge"] == {"kind": "local-git", "repository": "demo/cli"}
    (entry,) = status["entries"]
    assert (entry["pull_request"], entry["stage"], entry["runs"]) == (1, "precheck", ["r1"])
    text = cli("queue", "status")
    assert "#1" in text.out and "precheck" in text.out
    synced = cli("queue", "sync", "-f", "json").json()
    assert synced["schema"] == "greenline.queue-sync/1" and synced["results"] == 0
    removed = cli("queue", "remove", "--pr", "1")
    assert removed.code == 0 and "removed #1" in removed.out
    assert forge.queue_branches() == {}, "its tree's branch is gone"
    again = cli("queue", "remove", "--pr", "1")
    assert again.code == 4 and "#1 is not queued" in again.err and "Hint:" in again.err


def test_a_branch_or_a_pull_request_one_of_them(cli: Cli, git_repo: Path) -> None:
    forge_with_a_pull(git_repo)
    for args in (("queue", "add"), ("queue", "add", "docs", "--pr", "1"), ("queue", "remove")):
        refused = cli(*args)
        assert refused.code == 4, refused.err
        assert "give a branch or --pr N" in refused.err and "Hint:" in refused.err
    closed = cli("queue", "add", "--pr", "7")
    assert closed.code == 4 and "no pull request #7" in closed.err
