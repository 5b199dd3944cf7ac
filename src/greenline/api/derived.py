"""Values derived from the store or the repository, remembered with the state they were
derived from: asked again while that state is the same (the caller reads a key that changes
whenever the inputs do), the value is given back instead of derived anew. Few values are kept
per name, so memory stays bounded; a long-lived process (the team server) gains, a command
loses nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from greenline import vcs
from greenline.ids import is_object_id

T = TypeVar("T")


class Derived:
    """The newest values of each name with their keys; safe to share between request
    threads (two threads may derive the same value at once: both get it)."""

    def __init__(self, keep: int = 1) -> None:
        self.keep = keep
        self._kept: dict[str, OrderedDict[Hashable, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, key: Hashable, derive: Callable[[], T]) -> T:
        """The value ``derive()`` gave for ``key`` under ``name``, derived now if none is kept
        for that key (the least recently asked one makes room)."""
        with self._lock:
            kept = self._kept.setdefault(name, OrderedDict())
            if key in kept:
                kept.move_to_end(key)
                found: T = kept[key]
                return found
        value = derive()
        with self._lock:
            kept[key] = value
            while len(kept) > self.keep:
                kept.popitem(last=False)
        return value


class CommitFacts:
    """What git says of full commit ids, which never changes: the commit a full id names and
    whether one commit is an ancestor of another. Anything else is asked each time."""

    #: answers kept before the oldest are forgotten
    KEEP = 4096

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known = Derived(self.KEEP)

    def resolve(self, rev: str) -> str:
        """``vcs.resolve_revision``; kept for a full id that names a commit."""
        if not is_object_id(rev):
            return vcs.resolve_revision(self.root, rev)
        return self._known.get("resolve", rev, lambda: vcs.resolve_revision(self.root, rev))

    def is_ancestor(self, sha: str, head: str) -> bool:
        """``vcs.is_ancestor``; kept when both are full ids."""
        if not (is_object_id(sha) and is_object_id(head)):
            return vcs.is_ancestor(self.root, sha, head)
        return self._known.get(
            "ancestor", (sha, head), lambda: vcs.is_ancestor(self.root, sha, head)
        )
