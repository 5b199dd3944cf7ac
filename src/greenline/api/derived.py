"""Values derived from the store, remembered with the state of the store they were derived
from: asked again while that state is the same (the caller reads a key that changes whenever
the inputs do), the value is given back instead of derived anew. One value is kept per name,
so memory stays bounded; a long-lived process (the team server) gains, a command loses nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Derived:
    """The newest value of each name with its key; safe to share between request threads."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Hashable, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, key: Hashable, derive: Callable[[], T]) -> T:
        """The value ``derive()`` gave for ``key`` under ``name``, derived now if the kept one
        is of another key (or there is none)."""
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and kept[0] == key:
            value: T = kept[1]
            return value
        value = derive()
        with self._lock:
            self._kept[name] = (key, value)
        return value
