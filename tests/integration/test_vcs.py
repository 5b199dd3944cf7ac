from __future__ import annotations

from pathlib import Path

import pytest

from greenline import vcs
from greenline.errors import VcsError
from tests.conftest import git


def test_commit_branch_and_dirty_flag(git_repo: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD")
    commit = vcs.read_commit(git_repo)
    assert (commit.sha, commit.branch, commit.dirty) == (head, "main", False)
    assert commit.subject == "initial commit"
    assert commit.committed_at is not None and commit.committed_at.tzinfo is not None
    (git_repo / "README.md").write_text("edited\n")
    assert vcs.read_commit(git_repo).dirty
    git(git_repo, "checkout", "-q", "-b", "feature/x")
    assert vcs.read_commit(git_repo).branch == "feature/x"


def test_edits_make_the_tree_dirty_but_untracked_files_do_not(git_repo: Path) -> None:
    (git_repo / "report.xml").write_text("<testsuite/>\n")
    assert not vcs.read_commit(git_repo).dirty, "build outputs and reports are not edits"
    (git_repo / "README.md").write_text("edited\n")
    assert vcs.read_commit(git_repo).dirty


def test_detached_head_takes_the_branch_from_ci(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(git_repo, "checkout", "-q", "--detach")
    for name in vcs.BRANCH_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert vcs.read_commit(git_repo).branch is None
    monkeypatch.setenv("GITHUB_HEAD_REF", "pr-branch")
    assert vcs.read_commit(git_repo).branch == "pr-branch"


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    commit = vcs.read_commit(tmp_path)
    assert (commit.sha, commit.branch) == (None, "trunk")


def test_outside_git(tmp_path: Path) -> None:
    assert vcs.find_root(tmp_path) is None
    assert vcs.read_commit(tmp_path).sha is None
    assert vcs.repository_name(tmp_path) == tmp_path.name


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(VcsError, match="no such directory"):
        vcs.find_root(tmp_path / "missing")


def test_root_from_a_subdirectory(git_repo: Path) -> None:
    sub = git_repo / "pkg" / "deep"
    sub.mkdir(parents=True)
    assert vcs.find_root(sub) == git_repo


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:acme/shop.git",
        "https://github.com/acme/shop.git",
        "https://gitlab.example.com/acme/shop/",
        "ssh://git@host:2222/acme/shop",
    ],
)
def test_repository_name_from_origin(git_repo: Path, url: str) -> None:
    git(git_repo, "remote", "add", "origin", url)
    assert vcs.repository_name(git_repo) == "acme/shop"
