"""``vcs.read_diff``: the working tree's change against a commit as a patch that another clone
at that commit applies to the same files, git's own index left untouched."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from greenline import vcs
from tests.conftest import git


def test_the_diff_rebuilds_the_working_tree_elsewhere(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "app.py").write_text("def f():\n    return 1\n")
    (git_repo / "gone.py").write_text("x = 1\n")
    (git_repo / "logo.bin").write_bytes(bytes(range(256)))
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "base")
    base = git(git_repo, "rev-parse", "HEAD")
    (git_repo / "app.py").write_text("def f():\n    return 2\n")  # unstaged
    (git_repo / "staged.py").write_text("y = 2\n")
    git(git_repo, "add", "staged.py")
    (git_repo / "gone.py").unlink()
    (git_repo / "test_[a].py").write_text("def test_a():\n    pass\n")  # untracked, glob-like
    (git_repo / "logo.bin").write_bytes(bytes(range(255, -1, -1)))
    venv = git_repo / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    index = (git_repo / ".git" / "index").read_bytes()

    patch = vcs.read_diff(git_repo, base)

    assert (git_repo / ".git" / "index").read_bytes() == index, "git's index is untouched"
    assert b"pyvenv.cfg" not in patch
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(git_repo), str(other))
    git(other, "checkout", "-q", base)
    subprocess.run(["git", "apply", "--binary", "-"], cwd=other, input=patch, check=True)
    for name in ("app.py", "staged.py", "test_[a].py", "logo.bin"):
        assert (other / name).read_bytes() == (git_repo / name).read_bytes(), name
    assert not (other / "gone.py").exists()


def test_the_diff_sees_a_file_rewritten_in_the_second_the_index_was_written(
    git_repo: Path,
) -> None:
    # git trusts an index entry whose file stats match unless the entry is as new as the index
    # file itself ("racy git"); the index the diff works on must keep that age, or a file
    # rewritten with the same size in that second reads as unchanged.
    git(git_repo, "config", "core.trustctime", "false")
    logo = git_repo / "logo.bin"
    logo.write_bytes(bytes(range(256)))
    then = logo.stat().st_mtime_ns - 60 * 10**9  # a minute ago: the copy of the index is newer
    os.utime(logo, ns=(then, then))
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "base")
    base = git(git_repo, "rev-parse", "HEAD")
    logo.write_bytes(bytes(range(255, -1, -1)))  # same size, same file, same times
    os.utime(logo, ns=(then, then))
    os.utime(git_repo / ".git" / "index", ns=(then, then))
    assert "logo.bin" in git(
        git_repo, "--no-optional-locks", "status", "--porcelain"
    )  # git sees it

    patch = vcs.read_diff(git_repo, base)

    assert b"logo.bin" in patch
