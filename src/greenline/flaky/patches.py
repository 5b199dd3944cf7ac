"""Unified diffs offered as fixes (pure): which files a diff touches, refusing any path that
could lead outside the repository (absolute, ``..``, a home or drive prefix)."""

from __future__ import annotations

from pathlib import PurePosixPath

from greenline.flaky.fixes import FixError

_NO_FILE = "/dev/null"


def patched_paths(diff: str) -> list[str]:
    """The repository-relative paths the diff changes, creates or deletes, in order."""
    paths: list[str] = []
    for line in diff.splitlines():
        if not line.startswith(("--- ", "+++ ")):
            continue
        name = line[4:].split("\t", 1)[0].strip()
        if name == _NO_FILE:
            continue
        if name.startswith(("a/", "b/")):
            name = name[2:]
        path = _safe(name)
        if path not in paths:
            paths.append(path)
    if not paths:
        raise FixError("it is not a unified diff (no --- and +++ lines)")
    return paths


def _safe(name: str) -> str:
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or name.startswith(("~", "\\")):
        raise FixError(f"it names {name!r}, a path outside the repository")
    if ":" in pure.parts[0]:  # C:... on Windows
        raise FixError(f"it names {name!r}, a path outside the repository")
    return str(pure)
