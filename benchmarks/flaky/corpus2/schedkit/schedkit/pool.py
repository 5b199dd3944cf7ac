"""Running jobs on worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_all(jobs: list[Callable[[], object]]) -> list[object]:
    """Run every job on its own thread; their results."""
    results: list[object] = []

    def work(job: Callable[[], object]) -> None:
        results.append(job())

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class Scheduler:
    """Runs each due job once, however many workers call ``tick``."""

    def __init__(self, jobs: dict[str, Callable[[], object]]) -> None:
        self.pending = dict(jobs)
        self.runs: list[str] = []

    def tick(self) -> None:
        for name in list(self.pending):
            job = self.pending.get(name)
            if job is None:
                continue
            job()
            self.runs.append(name)
            self.pending.pop(name, None)
