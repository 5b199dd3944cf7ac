"""What the executors hand a job and ship for it: inputs written where the job runs, and the
work tree zipped for Ray, the same bytes for the same tree, refused with the largest folders
named when it is over Ray's limit, and a worktree under ``.greenline/`` shipped as a tree of
its own (no cluster needed for any of it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenline.errors import UsageError
from greenline.executor import IN, OUT, Job, LocalExecutor
from greenline.executor.ray_backend import build_package, shipped_path, unpack_tree


def test_a_job_reads_its_inputs_from_its_input_directory(tmp_path: Path) -> None:
    script = (
        "import pathlib, sys; "
        "pathlib.Path(sys.argv[2], 'b').write_text(pathlib.Path(sys.argv[1], 'a').read_text())"
    )
    job = Job(("{python}", "-c", script, IN, OUT), tmp_path, inputs={"a": b"given"})
    result = LocalExecutor().run(job)
    assert result.exit_code == 0 and result.text("b") == "given"


def make_tree(root: Path) -> list[str]:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("never shipped")
    return ["pkg/mod.py", "run.sh", ".git/config", "gone.py"]


def test_the_package_is_the_listed_tree_and_the_same_bytes_each_time(tmp_path: Path) -> None:
    import zipfile

    files = make_tree(tmp_path / "tree")
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    build_package(tmp_path / "tree", files, 10**6, first)
    build_package(tmp_path / "tree", list(reversed(files)), 10**6, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["pkg/mod.py", "run.sh"]
        assert (archive.getinfo("run.sh").external_attr >> 16) & 0o111


def test_a_tree_over_the_limit_is_refused_with_a_hint(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "tree")
    (tmp_path / "tree" / "data").mkdir()
    (tmp_path / "tree" / "data" / "blob.bin").write_bytes(bytes(range(256)) * 4000)
    with pytest.raises(UsageError) as caught:
        build_package(tmp_path / "tree", [*files, "data/blob.bin"], 2000, tmp_path / "p.zip")
    assert "over Ray's limit" in caught.value.message
    assert "largest: data (1 MiB)" in caught.value.message
    assert caught.value.hint is not None and ".gitignore" in caught.value.hint


def test_a_worktree_the_package_leaves_out_is_a_tree_of_its_own(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert shipped_path(root, root) == "."
    assert shipped_path(root, root / "pkg" / "sub") == "pkg/sub"
    # a culprit probe's and a queue check's worktrees: .greenline/ is never in the package
    assert shipped_path(root, root / ".greenline" / "recovery" / "probe-1") is None
    assert shipped_path(root, root / ".greenline" / "queue" / "trees" / "r1") is None
    assert shipped_path(root, tmp_path / "elsewhere") is None


def test_a_worktree_s_package_unpacks_with_its_modes_and_nothing_outside(tmp_path: Path) -> None:
    import io
    import zipfile

    files = make_tree(tmp_path / "tree")
    package = tmp_path / "tree.zip"
    build_package(tmp_path / "tree", files, 2**20, package)
    unpack_tree(package.read_bytes(), tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert not (tmp_path / "out" / ".git").exists()
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as archive:
        archive.writestr("../escaped.py", "x")
    with pytest.raises(ValueError, match="not a file of the tree"):
        unpack_tree(forged.getvalue(), tmp_path / "again")
    assert not (tmp_path / "escaped.py").exists()
