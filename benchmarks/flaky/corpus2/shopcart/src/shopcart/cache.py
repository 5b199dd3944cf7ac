"""A small time-to-live cache for prices computed by slow back ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any


class PriceCache:
    def __init__(self, ttl: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.timer = timer
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self.misses = 0

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        now = self.timer()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        self.misses += 1
        value = load()
        self._entries[key] = (self.timer(), value)
        return value

    def invalidate(self, key: Hashable) -> None:
        self._entries.pop(key, None)
