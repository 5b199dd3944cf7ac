"""Which files other than Python source a test opens (fixtures, templates, data), via the audit
event ``open`` (see ``tracing.audit``: one hook per process, forwarding to the tracker that is
recording, if any; between tests and after the session it returns at once).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from greenline.tracing import audit

#: Files that are code or caches, never a test's data.
SKIP_SUFFIXES = (".py", ".pyc", ".pyo", ".pyi", ".so", ".pyd")
SKIP_PARTS = ("/.git/", "/__pycache__/", "/.pytest_cache/", "/.greenline/", "/site-packages/")

_recording: FileReadTracker | None = None
_installed = False


def _on_open(event: str, args: tuple[Any, ...]) -> None:
    tracker = _recording
    if tracker is not None and tracker.active:
        tracker.note(args[0])


class FileReadTracker:
    """The repository files (not Python source) opened during each test."""

    def __init__(self, root: Path) -> None:
        self._prefixes = tuple({str(root) + os.sep, str(root.resolve()) + os.sep})
        self.active = False
        self._seen: set[str] = set()

    def start(self) -> None:
        global _recording, _installed
        _recording = self
        if not _installed:
            audit.listen(("open",), _on_open)
            _installed = True

    def begin(self) -> None:
        self._seen = set()
        self.active = True

    def pause(self) -> None:
        self.active = False

    def resume(self) -> None:
        self.active = True

    def take(self) -> list[str]:
        self.active = False
        return sorted(self._seen)

    def close(self) -> None:
        global _recording
        self.active = False
        if _recording is self:
            _recording = None

    def note(self, target: Any) -> None:
        if isinstance(target, int):
            return  # a file descriptor: already open
        try:
            name = os.fsdecode(os.fspath(target))
        except TypeError:
            return
        if not os.path.isabs(name):  # noqa: PTH117 (hot path: strings, not Path objects)
            name = os.path.join(os.getcwd(), name)  # noqa: PTH109, PTH118
        if name.endswith(SKIP_SUFFIXES) or any(part in name for part in SKIP_PARTS):
            return
        prefix = next((p for p in self._prefixes if name.startswith(p)), None)
        if prefix is not None:
            self._seen.add(os.path.normpath(name[len(prefix) :]).replace(os.sep, "/"))
