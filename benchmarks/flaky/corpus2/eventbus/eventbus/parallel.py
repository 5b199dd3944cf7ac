"""Publishing to slow subscribers on a thread pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from eventbus import bus


def publish_parallel(topic: str, payload: Any, workers: int = 4) -> list[Any]:
    """Deliver to every subscriber at once; the results, one per subscriber."""
    handlers = bus.subscribers(topic)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(handler, payload) for handler in handlers]
        return [future.result() for future in as_completed(futures)]


class DeliveryStats:
    """How many events each topic delivered (the count is persisted after each delivery)."""

    def __init__(self) -> None:
        self.delivered: dict[str, int] = {}

    def record(self, topic: str) -> None:
        current = self.delivered.get(topic, 0)
        self._persist()
        self.delivered[topic] = current + 1

    def _persist(self) -> None:
        time.sleep(0.001)  # writes the counters file


class SafeStats(DeliveryStats):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, topic: str) -> None:
        with self._lock:
            super().record(topic)
